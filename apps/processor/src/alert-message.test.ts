import { describe, expect, it } from "vitest";
import { alertMsgId, encodeAlert } from "./alert-message.js";

describe("encodeAlert", () => {
  it("writes the alert as JSON with the event as kept", () => {
    const alert = {
      rule: "large_transaction",
      dataset: "transactions",
      eventId: "e1",
      ingestedAt: 1_700_000_000_000,
      traceId: "0af7651916cd43dd8448eb211c80319c",
      event: { amount: 12_000.5, currency: "EUR" },
    };
    expect(JSON.parse(Buffer.from(encodeAlert(alert)).toString("utf8"))).toEqual(alert);
  });
});

describe("alertMsgId", () => {
  it("is the rule and the event id, the same on every redelivery", () => {
    expect(alertMsgId("large_transaction", "e1")).toBe("large_transaction:e1");
  });
});
