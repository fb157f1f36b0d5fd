// Entry point for test files only: importing vitest outside a vitest run throws.
export { natsTest, postgresTest, pubsubTest } from "./fixtures.js";
