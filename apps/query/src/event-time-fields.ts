import { loadDatasets } from "@inlet/schema";
import type { Logger } from "@inlet/telemetry";

/**
 * Each configured dataset's event time column (`eventTimeField` in
 * `<configDir>/datasets/<ds>/dataset.json`), so the datasets listing can show the newest event.
 * The query service serves the lake without it: when the settings cannot be read, it logs why
 * and returns none.
 */
export async function readEventTimeFields(
  configDir: string,
  logger: Logger,
): Promise<Record<string, string>> {
  try {
    const datasets = await loadDatasets(configDir);
    return Object.fromEntries(datasets.map((d) => [d.name, d.settings.eventTimeField]));
  } catch (error) {
    logger.warn({ err: error, configDir }, "dataset settings unreadable, newest event times left out");
    return {};
  }
}
