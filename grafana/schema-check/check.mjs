// Type-check Grafana dashboard JSON files against model.ts (Grafana's @grafana/schema), as `tsc --noEmit`
// would: each file becomes `export default (<the JSON, byte for byte>) satisfies ProvisionedDashboard;`
// in a scratch directory, so TypeScript's line numbers are the JSON file's own.
//
//   node check.mjs [FILE.json | DIRECTORY ...]     (default: ../dashboards)
//
// Prints one `file:line:col: message` per problem and exits 1 if there are any; exit 2 for bad usage.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
const PREFIX = 'export default (';

function dashboardFiles(args) {
  const sources = args.length ? args : [path.join(here, '..', 'dashboards')];
  return sources.flatMap((source) =>
    fs.statSync(source).isDirectory()
      ? fs.readdirSync(source).filter((name) => name.endsWith('.json')).sort().map((name) => path.join(source, name))
      : [source],
  );
}

function main(args) {
  const files = dashboardFiles(args);
  if (!files.length) {
    console.error(`no dashboard JSON in ${args.join(' ') || 'grafana/dashboards'}`);
    return 2;
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-schema-'));
  try {
    const generated = new Map(); // scratch .ts -> the JSON file it holds
    const problems = [];
    files.forEach((file, index) => {
      const text = fs.readFileSync(file, 'utf8');
      try {
        JSON.parse(text); // only JSON may go in: TypeScript would accept comments, trailing commas, code
      } catch (error) {
        problems.push(`${file}: not valid JSON: ${error.message}`);
        return;
      }
      const tsFile = path.join(scratch, `dashboard${index}.ts`);
      const model = path.join(here, 'model').split(path.sep).join('/');
      fs.writeFileSync(tsFile, `${PREFIX}${text}) satisfies ProvisionedDashboard;\n` +
        `import type { ProvisionedDashboard } from '${model}';\n`);
      generated.set(tsFile, file);
    });
    const program = ts.createProgram([...generated.keys()], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      types: [],
    });
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n    ');
      if (!diagnostic.file) {
        problems.push(`error TS${diagnostic.code}: ${message}`);
        continue;
      }
      const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const origin = generated.get(path.resolve(diagnostic.file.fileName));
      const column = line === 0 && origin ? character - PREFIX.length : character;
      problems.push(`${origin ?? diagnostic.file.fileName}:${line + 1}:${column + 1}: error TS${diagnostic.code}: ${message}`);
    }
    for (const problem of problems) console.log(problem);
    const version = JSON.parse(fs.readFileSync(path.join(here, 'node_modules/@grafana/schema/package.json'))).version;
    const verdict = problems.length ? `${problems.length} problem(s)` : 'all match';
    console.log(`[schema-check] ${files.length} dashboard(s) against @grafana/schema ${version} ` +
      `(TypeScript ${ts.version}): ${verdict}`);
    return problems.length ? 1 : 0;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

process.exitCode = main(process.argv.slice(2));
