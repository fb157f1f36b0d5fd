import { describe, expect, it } from "vitest";
import {
  consoleScript,
  datasetQuery,
  escapeHtml,
  formatAge,
  formatBytes,
  freshnessClass,
  recentRate,
  renderDatasets,
  renderResult,
  rowsPerSecond,
  sparkline,
} from "./console-script.js";

describe("the console's formatting", () => {
  it("escapes text for HTML", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("says ages and sizes as people do", () => {
    expect([undefined, 850, 4_240, 185_000, 7_800_000].map(formatAge)).toEqual([
      "–",
      "850 ms",
      "4.2 s",
      "3 min 5 s",
      "2 h 10 min",
    ]);
    expect([999, 1_500, 2_345_678, 3e9].map(formatBytes)).toEqual(["999 B", "1.5 kB", "2.3 MB", "3.0 GB"]);
    expect([5_000, 45_000, 3_600_000, undefined].map(freshnessClass)).toEqual([
      "fresh",
      "stale",
      "old",
      "old",
    ]);
  });

  it("turns two reads of a dataset into rows per second, never negative", () => {
    expect(rowsPerSecond({ rows: 1_000, at: 0 }, { rows: 5_000, at: 2_000 })).toBe(2_000);
    expect(rowsPerSecond({ rows: 5_000, at: 0 }, { rows: 1_000, at: 2_000 })).toBe(0);
    expect(rowsPerSecond({ rows: 1, at: 5 }, { rows: 9, at: 5 })).toBe(0);
  });

  it("takes the rate over the last 30 s of reads, so that commits every few seconds read smoothly", () => {
    const reads = [0, 2, 4, 6, 8, 10].map((s) => ({
      rows: s % 4 === 0 ? s * 100 : (s - 2) * 100,
      at: s * 1_000,
    }));
    expect(recentRate(reads.slice(0, 1))).toBeUndefined();
    expect(recentRate(reads)).toBe(80);
    // Reads older than the window are left out.
    expect(
      recentRate([{ rows: 0, at: 0 }, ...reads.slice(3).map((r) => ({ ...r, at: r.at + 60_000 }))], 30_000),
    ).toBe(100);
  });

  it("draws a sparkline scaled to its largest value, and nothing for one point", () => {
    expect(sparkline([3])).toBe("");
    const svg = sparkline([0, 10, 5], 100, 22);
    expect(svg).toContain('points="0.0,21.0 50.0,1.0 100.0,11.0"');
  });

  it("lists datasets with their rate, escaping what it shows", () => {
    const html = renderDatasets(
      [
        { name: "clicks", version: 7, files: 3, rows: 12_345, bytes: 2_000_000, freshnessMs: 1_200 },
        { name: "orders", version: 0, files: 0, rows: 0, bytes: 0, error: "<bad> log" },
      ],
      { clicks: [100, 250] },
      { clicks: 250 },
    );
    expect(html).toContain('<a href="#" data-query="clicks">clicks</a>');
    expect(html).toContain('<td class="num">12,345</td><td class="num">250</td>');
    expect(html).toContain('<td class="num fresh">1.2 s</td>');
    expect(html).toContain('title="&lt;bad&gt; log"');
    expect(renderDatasets([], {}, {})).toContain("no dataset yet");
  });

  it("shows a result as a table, nulls and objects told apart", () => {
    const html = renderResult({
      columns: [
        { name: "page", type: "VARCHAR" },
        { name: "n", type: "BIGINT" },
        { name: "tags", type: "VARCHAR[]" },
      ],
      rows: [
        { page: "<home>", n: 3, tags: ["a"] },
        { page: null, n: 1, tags: null },
      ],
      rowCount: 2,
      truncated: true,
      elapsedMs: 12,
    });
    expect(html).toContain("2 rows in 12 ms · cut at the service's row limit");
    expect(html).toContain('<th title="VARCHAR">page</th>');
    expect(html).toContain('<tr><td>&lt;home&gt;</td><td class="num">3</td><td>[&quot;a&quot;]</td></tr>');
    expect(html).toContain('<td class="null">NULL</td>');
  });

  it("serves one script that defines every function it calls and starts the console", () => {
    const script = consoleScript();
    expect(datasetQuery("clicks")).toBe("SELECT *\nFROM clicks\nORDER BY _ingested_at DESC\nLIMIT 100");
    // It parses as a script of its own, with nothing imported.
    expect(() => new Function(script.replace(/startConsole\(\);\n$/, ""))).not.toThrow();
    expect(script).not.toMatch(/\bimport\b|\brequire\(/);
    expect(script.trimEnd().endsWith("startConsole();")).toBe(true);
  });
});
