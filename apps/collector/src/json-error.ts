/** Where and why a text is not valid JSON: 0-based offset, 1-based line and column. */
export interface JsonSyntaxProblem {
  position: number;
  line: number;
  column: number;
  message: string;
}

const MAX_DEPTH = 10_000;

/**
 * Finds the first syntax error in `text`, or returns undefined when it is one valid JSON value.
 * Only called after `JSON.parse` failed: V8's messages give no position for an unexpected token,
 * and users need one ("line 3, column 7: unexpected character 'x'").
 */
export function locateJsonError(text: string): JsonSyntaxProblem | undefined {
  const scanner = new Scanner(text);
  try {
    scanner.whitespace();
    scanner.value(0);
    scanner.whitespace();
    if (scanner.pos < text.length) scanner.fail("unexpected data after the JSON value");
    return undefined;
  } catch (error) {
    if (error instanceof ScanError) return problemAt(text, error.position, error.message);
    throw error;
  }
}

/** Builds a problem at `position` of `text`, counting lines and columns (both from 1). */
export function problemAt(text: string, position: number, message: string): JsonSyntaxProblem {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < position; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { position, line, column: position - lineStart + 1, message };
}

/** Formats a problem for a person: `line 2, column 5: unexpected character 'x'`. */
export function describeJsonProblem(problem: JsonSyntaxProblem): string {
  return `line ${problem.line}, column ${problem.column}: ${problem.message}`;
}

class ScanError extends Error {
  override readonly name = "ScanError";
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

class Scanner {
  pos = 0;
  constructor(private readonly text: string) {}

  fail(message: string, at = this.pos): never {
    throw new ScanError(message, at);
  }

  whitespace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos++;
    }
  }

  private unexpected(expected: string): never {
    if (this.pos >= this.text.length) this.fail(`unexpected end of input, expected ${expected}`);
    this.fail(`unexpected character ${JSON.stringify(this.text[this.pos])}, expected ${expected}`);
  }

  value(depth: number): void {
    if (depth > MAX_DEPTH) this.fail("nested too deeply");
    const c = this.text[this.pos];
    if (c === "{") this.object(depth);
    else if (c === "[") this.array(depth);
    else if (c === '"') this.string();
    else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) this.number();
    else this.literal();
  }

  private literal(): void {
    for (const word of ["true", "false", "null"]) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    this.unexpected("a JSON value");
  }

  private object(depth: number): void {
    this.pos++;
    this.whitespace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return;
    }
    for (;;) {
      if (this.text[this.pos] !== '"') this.unexpected("a double-quoted property name");
      this.string();
      this.whitespace();
      if (this.text[this.pos] !== ":") this.unexpected("':'");
      this.pos++;
      this.whitespace();
      this.value(depth + 1);
      this.whitespace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === "}") return;
      if (c !== ",") {
        this.pos--;
        this.unexpected("',' or '}'");
      }
      this.whitespace();
    }
  }

  private array(depth: number): void {
    this.pos++;
    this.whitespace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return;
    }
    for (;;) {
      this.value(depth + 1);
      this.whitespace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === "]") return;
      if (c !== ",") {
        this.pos--;
        this.unexpected("',' or ']'");
      }
      this.whitespace();
    }
  }

  private string(): void {
    const start = this.pos;
    const t = this.text;
    this.pos++;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        this.pos++;
        return;
      }
      if (c < 0x20) this.fail("control character in string (escape it)");
      if (c === 0x5c) {
        const e = t[this.pos + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(t.slice(this.pos + 2, this.pos + 6))) {
            this.fail("bad \\u escape in string");
          }
          this.pos += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail("bad escape in string");
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    this.fail("unterminated string", start);
  }

  private number(): void {
    const match = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    match.lastIndex = this.pos;
    const found = match.exec(this.text);
    if (!found || found[0] === "-") this.fail("invalid number");
    this.pos += found[0].length;
  }
}
