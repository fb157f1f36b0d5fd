/** A column of a table to print: its name and DuckDB type (numbers are right-aligned). */
export interface TableColumn {
  name: string;
  type: string;
}

/** Widest a cell prints, in characters; longer values end in `…`. */
export const MAX_CELL_WIDTH = 48;

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/i;

/** What a cell shows: NULL for null, control characters escaped, cut at {@link MAX_CELL_WIDTH}. */
function cellText(value: string | null): string {
  if (value === null) return "NULL";
  const flat = value.replace(/\p{Cc}/gu, (c) => (c === "\n" ? "\\n" : c === "\t" ? "\\t" : " "));
  const chars = [...flat];
  return chars.length > MAX_CELL_WIDTH ? `${chars.slice(0, MAX_CELL_WIDTH - 1).join("")}…` : flat;
}

function width(text: string): number {
  return [...text].length;
}

function center(text: string, size: number): string {
  const room = size - width(text);
  const left = Math.floor(room / 2);
  return " ".repeat(left) + text + " ".repeat(room - left);
}

/**
 * Renders rows as a box-drawn table the way DuckDB's CLI does: names and lowercase types centered
 * in the header, numbers right-aligned, everything else left-aligned, NULL spelled out.
 */
export function renderTable(
  columns: readonly TableColumn[],
  rows: readonly (readonly (string | null)[])[],
): string {
  const names = columns.map((c) => cellText(c.name));
  const types = columns.map((c) => cellText(c.type.toLowerCase()));
  const numeric = columns.map((c) => NUMERIC.test(c.type));
  const cells = rows.map((row) => columns.map((_, i) => cellText(row[i] ?? null)));
  const widths = columns.map((_, i) =>
    Math.max(width(names[i] ?? ""), width(types[i] ?? ""), ...cells.map((row) => width(row[i] ?? ""))),
  );
  const rule = (left: string, middle: string, right: string) =>
    left + widths.map((w) => "─".repeat(w + 2)).join(middle) + right;
  const line = (values: readonly string[], align: (i: number, text: string, size: number) => string) =>
    `│${values.map((v, i) => ` ${align(i, v, widths[i] ?? 0)} `).join("│")}│`;
  const pad = (i: number, text: string, size: number) => {
    const room = " ".repeat(size - width(text));
    return numeric[i] ? room + text : text + room;
  };
  const out = [
    rule("┌", "┬", "┐"),
    line(names, (_i, t, s) => center(t, s)),
    line(types, (_i, t, s) => center(t, s)),
    rule("├", "┼", "┤"),
    ...cells.map((row) => line(row, pad)),
    rule("└", "┴", "┘"),
  ];
  return `${out.join("\n")}\n`;
}
