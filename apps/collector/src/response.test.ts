import { describe, expect, it } from "vitest";
import { buildResponse, type EventError, type RequestOutcome } from "./response.js";

const amount: EventError = {
  field: "amount",
  expected: "double",
  got: '"12,5"',
  message: 'dataset "tx": field "amount" expected double, got "12,5"',
};

function outcome(partial: Partial<RequestOutcome> & Pick<RequestOutcome, "ids">): RequestOutcome {
  return { rejected: new Map(), failed: new Map(), duplicates: new Set(), ...partial };
}

describe("buildResponse", () => {
  it("answers 200 with one result per event when all are accepted", () => {
    expect(buildResponse(outcome({ ids: ["a", "b"] }), false)).toEqual({
      status: 200,
      body: {
        accepted: 2,
        rejected: 0,
        results: [
          { index: 0, status: "accepted", id: "a" },
          { index: 1, status: "accepted", id: "b" },
        ],
      },
    });
  });

  it("answers 200 with the errors of the rejected events in a mixed batch", () => {
    const built = buildResponse(
      outcome({
        ids: ["a", "b", undefined],
        rejected: new Map([
          [1, [amount]],
          [2, [amount]],
        ]),
      }),
      false,
    );
    expect(built.status).toBe(200);
    expect(built.body.accepted).toBe(1);
    expect(built.body.rejected).toBe(2);
    expect(built.body.results[1]).toEqual({ index: 1, status: "rejected", id: "b", errors: [amount] });
    expect(built.body.results[2]).toEqual({ index: 2, status: "rejected", errors: [amount] });
  });

  it("lists only the rejected events when asked for errors only", () => {
    const built = buildResponse(outcome({ ids: ["a", "b", "c"], rejected: new Map([[1, [amount]]]) }), true);
    expect(built.body.results).toEqual([{ index: 1, status: "rejected", id: "b", errors: [amount] }]);
    expect(built.body.accepted).toBe(2);
  });

  it("answers 400 when every event was rejected", () => {
    const built = buildResponse(outcome({ ids: ["a"], rejected: new Map([[0, [amount]]]) }), false);
    expect(built.status).toBe(400);
    expect(built.body.error).toMatch(/every event was rejected/);
  });

  it("counts duplicates and marks them, still accepted", () => {
    const built = buildResponse(outcome({ ids: ["a", "b"], duplicates: new Set([0, 1]) }), false);
    expect(built.status).toBe(200);
    expect(built.body).toMatchObject({ accepted: 2, duplicates: 2 });
    expect(built.body.results[0]).toEqual({ index: 0, status: "accepted", id: "a", duplicate: true });
  });

  it("answers 503 and never counts events the bus did not store as accepted", () => {
    const built = buildResponse(
      outcome({
        ids: ["a", "b", "c"],
        failed: new Map([
          [1, "stream full"],
          [2, "stream full"],
        ]),
      }),
      true,
    );
    expect(built.status).toBe(503);
    expect(built.body).toMatchObject({ accepted: 1, rejected: 0, failed: 2 });
    expect(built.body.error).toMatch(/2 event\(s\) were not stored/);
    expect(built.body.results).toEqual([
      { index: 1, status: "failed", id: "b", reason: "stream full" },
      { index: 2, status: "failed", id: "c", reason: "stream full" },
    ]);
  });
});
