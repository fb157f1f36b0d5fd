/** A DuckDB identifier, double-quoted with embedded quotes doubled: `my "col"` → `"my ""col"""`. */
export function quoteIdent(name: string): string {
  rejectNul(name);
  return `"${name.replaceAll('"', '""')}"`;
}

/** A DuckDB string literal, single-quoted with embedded quotes doubled: `it's` → `'it''s'`. */
export function quoteString(value: string): string {
  rejectNul(value);
  return `'${value.replaceAll("'", "''")}'`;
}

// DuckDB ends a string at NUL; letting one through would silently truncate the SQL text.
function rejectNul(text: string): void {
  if (text.includes("\0")) throw new TypeError("SQL text cannot contain a NUL character");
}
