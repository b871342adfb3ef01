// Parse and validate an AsyncAPI document with the AsyncAPI project's own parser.
// Usage: node check-asyncapi.mjs FILE  — prints the diagnostics as JSON; exit 1 on any error.
import { readFileSync } from "node:fs";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(process.argv[2], "utf8"));
const report = diagnostics.map((d) => ({
  severity: ["error", "warning", "info", "hint"][d.severity] ?? String(d.severity),
  code: d.code, message: d.message, path: d.path.join("."),
}));
console.log(JSON.stringify({ parsed: document !== undefined, diagnostics: report }));
process.exit(document && !diagnostics.some((d) => d.severity === DiagnosticSeverity.Error) ? 0 : 1);
