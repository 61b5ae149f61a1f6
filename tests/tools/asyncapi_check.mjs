// Parse and validate an AsyncAPI document with the official parser; print diagnostics, then OK/FAILED.
import { Parser, fromFile } from '@asyncapi/parser';
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, process.argv[2]).parse();
for (const d of diagnostics) console.log(`severity=${d.severity} ${d.code}: ${d.message} at ${JSON.stringify(d.path)}`);
console.log(document ? "PARSED OK" : "FAILED");
