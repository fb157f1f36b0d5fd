import { type EventContext, eventTime } from "./event-time.js";
import { MERCHANT_IDS, UNKNOWN_MERCHANT_IDS } from "./reference-ids.js";

const CURRENCIES = { EUR: 55, USD: 25, GBP: 10, SEK: 4, PLN: 3, CHF: 3 } as const;
const STATUSES = { captured: 70, authorized: 20, declined: 7, refunded: 3 } as const;

/** Share of transactions whose merchant is not in the reference data (enrichment misses). */
export const UNKNOWN_MERCHANT_SHARE = 0.02;
/** Share of transactions above 10,000 (they trip the large-amount alert). */
export const LARGE_AMOUNT_SHARE = 0.005;
/** Share of test payments (`is_test: true`). */
export const TEST_PAYMENT_SHARE = 0.01;

/** One card payment of dataset `transactions`, without the enrichment fields. */
export function makeTransaction(ctx: EventContext): Record<string, unknown> {
  const { rng } = ctx;
  const merchant = rng.chance(UNKNOWN_MERCHANT_SHARE)
    ? rng.pick(UNKNOWN_MERCHANT_IDS)
    : rng.pick(MERCHANT_IDS);
  const amount = rng.chance(LARGE_AMOUNT_SHARE)
    ? rng.float(10_000.01, 50_000)
    : Math.min(9_999, Math.exp(rng.normal(3.4, 1.1)) + 0.5);
  return {
    ts: eventTime(ctx),
    transaction_id: `tx-${rng.hex(24)}`,
    account_id: `acct-${String(rng.int(1, 5_000)).padStart(6, "0")}`,
    merchant_id: merchant,
    amount: Math.round(amount * 100) / 100,
    currency: rng.weighted(CURRENCIES),
    status: rng.weighted(STATUSES),
    is_test: rng.chance(TEST_PAYMENT_SHARE),
  };
}
