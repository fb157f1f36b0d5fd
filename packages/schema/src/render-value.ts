/** Cuts `text` to `max` characters, marking the cut with `…`. */
export function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A short JSON rendering of a value for error messages: `"12,5"`, `null`, `undefined`, `{"a":1,…`. */
export function renderValue(value: unknown, max = 40): string {
  if (value === undefined) return "undefined";
  if (typeof value === "bigint") return shorten(`${value}n`, max);
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // circular structures and the like
  }
  return shorten(text ?? String(value), max);
}
