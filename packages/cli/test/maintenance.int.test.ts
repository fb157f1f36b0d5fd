import { randomUUID } from "node:crypto";
import { readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { click, createTestLake, type TestLake } from "@inlet/lake/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inlet } from "./run-inlet.js";

// Table maintenance through the built CLI, on a lake directory with no service running.
describe("inlet history, compact, vacuum and checkpoint", () => {
  let lake: TestLake;
  let tableDir: string;
  const partition = () => join(tableDir, "event_date=2024-05-01");

  beforeAll(async () => {
    // Six commits of two clicks each: six small files in one partition.
    lake = await createTestLake(...Array.from({ length: 6 }, (_, b) => [click(b * 2 + 1), click(b * 2 + 2)]));
    tableDir = join(lake.dir, "curated", "clicks");
  });
  afterAll(async () => {
    await lake?.remove();
  });

  const count = async () =>
    (await inlet(["sql", "--lake", lake.dir, "-f", "csv", "SELECT count(*) AS n FROM clicks"])).stdout;

  it("shows the history newest first, as a table and as JSON", async () => {
    const run = await inlet(["history", "--lake", lake.dir, "clicks", "--limit", "2"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.split("\n");
    expect(lines[1]).toMatch(
      /│\s+version\s+│\s+timestamp\s+│\s+operation\s+│\s+files_added\s+│\s+files_removed\s+│\s+rows_added\s+│\s+txn\s+│\s+parameters\s+│/,
    );
    expect(lines[4]).toMatch(
      /│\s+5 │ 20\d\d-.*Z │ WRITE\s+│\s+1 │\s+0 │\s+2 │ lake-writer-clicks=6 │ \{"mode":"Append",.*│/,
    );
    expect(lines[5]).toMatch(/│\s+4 │/);
    expect(lines).toHaveLength(8);
    const json = await inlet(["history", "--lake", lake.dir, "clicks", "--format", "json"]);
    const history = JSON.parse(json.stdout);
    expect(history.map((h: { version: number }) => h.version)).toEqual([5, 4, 3, 2, 1, 0]);
    expect(history[5]).toMatchObject({ operation: "WRITE", numFiles: 1, numRecords: 2 });
  });

  it("writes a checkpoint of the latest version, once", async () => {
    const run = await inlet(["checkpoint", "--lake", lake.dir, "clicks"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("checkpoint at version 5: 9 actions, 6 files\n");
    expect(await readdir(join(tableDir, "_delta_log"))).toContain("00000000000000000005.checkpoint.parquet");
    const again = await inlet(["checkpoint", "--lake", lake.dir, "clicks", "-f", "json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ version: 5, size: 9, created: false });
  });

  it("compacts the small files in one commit, the rows unchanged", async () => {
    const before = await count();
    expect(before).toBe("n\n12\n");
    const run = await inlet(["compact", "--lake", lake.dir, "clicks", "--target-mb", "16"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.split("\n");
    expect(lines[4]).toMatch(
      /│ event_date=2024-05-01 │\s+6 │\s+1 │\s+12 │ [\d.]+ kB\s+│ [\d.]+ kB\s+│ compacted │/,
    );
    expect(lines.at(-2)).toBe("committed version 6: 6 files replaced by 1");
    expect(await count()).toBe(before);
    const [top] = JSON.parse((await inlet(["history", "--lake", lake.dir, "clicks", "-f", "json"])).stdout);
    expect(top).toMatchObject({ version: 6, operation: "OPTIMIZE", numFiles: 1, numRemovedFiles: 6 });
    const nothing = await inlet(["compact", "--lake", lake.dir, "clicks"]);
    expect(nothing.stdout).toBe("nothing to compact: no partition has 2 or more small files\n");
  });

  it("vacuums an orphan past the retention, keeping what readers may still need", async () => {
    const orphan = `part-${randomUUID()}.zstd.parquet`;
    await writeFile(join(partition(), orphan), "a crashed writer's file, never committed");
    const twoDaysAgo = (Date.now() - 48 * 3_600_000) / 1000;
    await utimes(join(partition(), orphan), twoDaysAgo, twoDaysAgo);
    const files = (await readdir(partition())).length;

    const dry = await inlet(["vacuum", "--lake", lake.dir, "clicks", "--retention-hours", "24", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      new RegExp(`^event_date=2024-05-01/${orphan}\\nwould delete 1 files \\([\\d.]+ B\\), kept 7\\n$`),
    );
    expect((await readdir(partition())).length).toBe(files);

    // The compacted-away files were removed just now: kept, for readers of older versions.
    const run = await inlet([
      "vacuum",
      "--lake",
      lake.dir,
      "clicks",
      "--retention-hours",
      "24",
      "-f",
      "json",
    ]);
    expect(JSON.parse(run.stdout)).toMatchObject({
      deleted: [`event_date=2024-05-01/${orphan}`],
      kept: 7,
      dryRun: false,
    });
    expect((await readdir(partition())).length).toBe(files - 1);
    expect(await count()).toBe("n\n12\n");
  });

  it("vacuums the log before the newest checkpoint past the log retention", async () => {
    // The six appends (versions 0 to 5, a checkpoint at 5) forty days on; the compaction (6) today.
    const logDir = join(tableDir, "_delta_log");
    const fortyDaysAgo = (Date.now() - 40 * 86_400_000) / 1000;
    for (let v = 0; v <= 5; v++)
      await utimes(join(logDir, `${String(v).padStart(20, "0")}.json`), fortyDaysAgo, fortyDaysAgo);
    const older = [0, 1, 2, 3, 4].map((v) => `_delta_log/${String(v).padStart(20, "0")}.json`);

    const dry = await inlet(["vacuum", "--lake", lake.dir, "clicks", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`${older.join("\n")}\nwould delete 5 log files (`);
    expect(dry.stdout).toMatch(/\): the log begins at version 5\n$/);
    const longer = await inlet(["vacuum", "--lake", lake.dir, "clicks", "--log-retention-days", "60"]);
    expect(longer.stdout).not.toContain("_delta_log/");

    const run = await inlet(["vacuum", "--lake", lake.dir, "clicks", "-f", "json"]);
    expect(JSON.parse(run.stdout).log).toMatchObject({
      keptFrom: 5,
      deleted: older.map((f) => f.slice("_delta_log/".length)),
    });
    const history = JSON.parse((await inlet(["history", "--lake", lake.dir, "clicks", "-f", "json"])).stdout);
    expect(history.map((h: { version: number }) => h.version)).toEqual([6, 5]);
    expect(await count()).toBe("n\n12\n");
  });

  it("explains a missing table, a missing name and a retention that is too short", async () => {
    const missing = await inlet(["history", "--lake", lake.dir, "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^inlet: the lake .* has no table "nope" \(no .*\/curated\/nope\/_delta_log; set --lake or INLET_LAKE_DIR\)\n$/,
    );
    const noName = await inlet(["compact", "--lake", lake.dir]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain("compact takes one table name");
    const badName = await inlet(["vacuum", "--lake", lake.dir, "../etc"]);
    expect(badName.code).toBe(2);
    const short = await inlet(["vacuum", "--lake", lake.dir, "clicks", "--retention-hours", "0"]);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("--retention-hours must be a number of at least 1");
    const none = await inlet(["vacuum", "--lake", lake.dir, "clicks", "--log-retention-days", "0"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--log-retention-days must be a number above 0");
  });
});
