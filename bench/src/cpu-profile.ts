import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

/** Where one service spent its CPU: the busiest functions and packages by self time. */
export interface ProfileSummary {
  service: string;
  /** Sampled time, s. */
  totalS: number;
  topFunctions: { name: string; selfPct: number }[];
  topPackages: { name: string; selfPct: number }[];
}

/**
 * Reads every `.cpuprofile` under `<profileDir>/<service>/` (written by `node --cpu-prof` when a
 * service exits) and sums self time by function and by package (`node_modules/<pkg>`, `node:`
 * internals, the service's own code, `(garbage collector)`, `(idle)`…).
 */
export async function summarizeProfiles(profileDir: string): Promise<ProfileSummary[]> {
  const summaries: ProfileSummary[] = [];
  for (const service of (await readdir(profileDir, { withFileTypes: true })).filter((d) => d.isDirectory())) {
    const dir = join(profileDir, service.name);
    const files = (await readdir(dir)).filter((f) => f.endsWith(".cpuprofile"));
    const byFunction = new Map<string, number>();
    const byPackage = new Map<string, number>();
    let total = 0;
    let totalS = 0;
    for (const file of files) {
      const profile = JSON.parse(await readFile(join(dir, file), "utf8")) as CpuProfile;
      totalS += (profile.endTime - profile.startTime) / 1e6;
      for (const node of profile.nodes) {
        const hits = node.hitCount ?? 0;
        if (hits === 0) continue;
        total += hits;
        const { functionName, url, lineNumber } = node.callFrame;
        const where = url === "" ? "" : ` ${shortUrl(url)}:${lineNumber + 1}`;
        const fn = `${functionName || "(anonymous)"}${where}`;
        byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
        const pkg = packageOf(functionName, url);
        byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
      }
    }
    const top = (m: Map<string, number>, n: number) =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([name, hits]) => ({ name, selfPct: Math.round((hits / Math.max(total, 1)) * 1000) / 10 }));
    summaries.push({
      service: service.name,
      totalS: Math.round(totalS),
      topFunctions: top(byFunction, 15),
      topPackages: top(byPackage, 10),
    });
  }
  return summaries;
}

/** Writes the summaries as Markdown to `<profileDir>/summary.md`; returns the text. */
export async function writeProfileSummary(
  profileDir: string,
  summaries: readonly ProfileSummary[],
): Promise<string> {
  const lines = [
    "# CPU profiles of the services (self time): the stack during e2e and freshness, the lake-writer alone during the writer figure",
    "",
  ];
  for (const s of summaries) {
    lines.push(`## ${s.service} (${s.totalS} s profiled)`, "", "| package | self % |", "|---|---:|");
    for (const p of s.topPackages) lines.push(`| ${p.name} | ${p.selfPct} |`);
    lines.push("", "| function | self % |", "|---|---:|");
    for (const f of s.topFunctions) lines.push(`| \`${f.name}\` | ${f.selfPct} |`);
    lines.push("");
  }
  const text = lines.join("\n");
  await writeFile(join(profileDir, "summary.md"), text);
  return text;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length);
  const apps = url.search(/\/(apps|packages)\//);
  return apps >= 0 ? url.slice(apps + 1) : url.replace(/^file:\/\//, "");
}

function packageOf(functionName: string, url: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  if (url.startsWith("node:")) return "node internals";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const m = /\/((?:apps|packages)\/[^/]+)\//.exec(url);
  return m?.[1] ?? url;
}
