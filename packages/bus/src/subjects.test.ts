import { describe, expect, it } from "vitest";
import { BusErrorCode } from "./errors.js";
import { createSubjects, datasetOfSubject, isDatasetName, Stage, Subjects } from "./subjects.js";

describe("Subjects", () => {
  it("names the subjects of the contract", () => {
    expect(Subjects.ingest("clicks")).toBe("ingest.clicks");
    expect(Subjects.processed("clicks")).toBe("processed.clicks");
    expect(Subjects.curated("sensor_readings")).toBe("curated.sensor_readings");
    expect(Subjects.dlq(Stage.LakeWriter, "clicks")).toBe("dlq.lake-writer.clicks");
    expect(Subjects.alert("big_spender")).toBe("alerts.big_spender");
    expect(Subjects.cdc("shop", "orders")).toBe("cdc.shop.orders");
    expect(Subjects.collect("clicks")).toBe("inlet.collect.clicks");
    expect(Subjects.all).toEqual({
      ingest: "ingest.*",
      processed: "processed.*",
      curated: "curated.*",
      dlq: "dlq.*.*",
      alerts: "alerts.*",
      cdc: "cdc.*.*",
      collect: "inlet.collect.*",
    });
  });

  it("puts every subject under a prefix", () => {
    const s = createSubjects("t123");
    expect(s.ingest("clicks")).toBe("t123.ingest.clicks");
    expect(s.dlq(Stage.Processor, "clicks")).toBe("t123.dlq.processor.clicks");
    expect(s.collect("clicks")).toBe("t123.inlet.collect.clicks");
    expect(s.all.curated).toBe("t123.curated.*");
  });

  it.each(["", "Clicks", "1clicks", "click.s", "clicks>", "cli cks", "*"])("refuses dataset %j", (ds) => {
    expect(() => Subjects.ingest(ds)).toThrow(expect.objectContaining({ code: BusErrorCode.InvalidName }));
    expect(isDatasetName(ds)).toBe(false);
  });

  it("refuses an unknown stage, a dotted rule and a wildcard prefix", () => {
    expect(() => Subjects.dlq("loader" as Stage, "clicks")).toThrow(/invalid stage/);
    expect(() => Subjects.alert("a.b")).toThrow(/invalid alert rule/);
    expect(() => createSubjects("t.>")).toThrow(/invalid subject prefix/);
  });

  it("reads the dataset from a subject's last token", () => {
    expect(datasetOfSubject("ingest.clicks")).toBe("clicks");
    expect(datasetOfSubject("t1.dlq.processor.sensor_readings")).toBe("sensor_readings");
    expect(datasetOfSubject("alerts.Big-One")).toBeUndefined();
  });
});
