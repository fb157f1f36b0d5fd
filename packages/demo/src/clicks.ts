import { type EventContext, eventTime } from "./event-time.js";

const PAGES = [
  "/",
  "/search",
  "/cart",
  "/checkout",
  "/account",
  "/help",
  "/blog/streaming-101",
  "/pricing",
] as const;
const REFERRERS = [
  "https://www.google.com/",
  "https://duckduckgo.com/",
  "https://news.ycombinator.com/",
  "https://www.reddit.com/r/dataengineering/",
  "https://t.co/",
  "https://www.linkedin.com/feed/",
] as const;
const COUNTRIES = {
  DE: 22,
  US: 20,
  FR: 12,
  GB: 10,
  NL: 8,
  ES: 7,
  IT: 6,
  SE: 5,
  PL: 5,
  BR: 3,
  JP: 2,
} as const;
const DEVICES = { desktop: 50, mobile: 42, tablet: 8 } as const;
const BROWSERS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
] as const;
const BOTS = [
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
  "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
] as const;
const CAMPAIGNS = ["spring_sale", "newsletter_06", "retargeting", "launch_week"] as const;

/** Share of clicks made by crawlers (their user agent contains "bot"). */
export const BOT_SHARE = 0.03;

/** One page view of dataset `clicks`; with `version >= 2` it also carries `campaign`. */
export function makeClick(ctx: EventContext): Record<string, unknown> {
  const { rng } = ctx;
  const bot = rng.chance(BOT_SHARE);
  const page = rng.chance(0.4) ? `/products/${rng.int(1, 5_000)}` : rng.pick(PAGES);
  const event: Record<string, unknown> = {
    ts: eventTime(ctx),
    user_id: `u-${String(rng.int(1, 20_000)).padStart(6, "0")}`,
    session_id: `s-${rng.hex(16)}`,
    page,
    referrer: rng.chance(0.4) ? null : rng.pick(REFERRERS),
    country: rng.weighted(COUNTRIES),
    device: bot ? "desktop" : rng.weighted(DEVICES),
    user_agent: bot ? rng.pick(BOTS) : rng.pick(BROWSERS),
    duration_ms: Math.min(600_000, Math.round(Math.exp(rng.normal(8.5, 1.2)))),
  };
  if (ctx.version >= 2) event.campaign = rng.chance(0.2) ? rng.pick(CAMPAIGNS) : null;
  return event;
}
