import { mkdir, open, rename } from "node:fs/promises";
import { dirname } from "node:path";

/** Flushes a file's data and metadata to disk (fsync). */
export async function syncFile(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a directory's entries to disk, so a file created, linked or renamed in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Renames `from` to `to` (same directory tree) and makes the new name durable. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncDir(dirname(to));
  if (dirname(from) !== dirname(to)) await syncDir(dirname(from));
}

/** Creates `dir` and any missing parents, and makes each new directory's entry durable (fsyncs its parent). */
export async function ensureDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  // mkdir returns the topmost directory it created; every directory from there down is new.
  for (let created = dir; ; created = dirname(created)) {
    await syncDir(dirname(created));
    if (created === first) break;
  }
}
