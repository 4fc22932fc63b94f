// Parses .bicep and .bicepparam files with tree-sitter-bicep and prints, as JSON on stdout, each file's
// syntax errors (ERROR and MISSING nodes) and its tree of named nodes (type, line, byte span, field name) for the Go checks in this folder.
// Usage: node infra/check/parse.js FILE...
//
// tree-sitter-bicep 1.1.0 has no rule for a .bicepparam assignment (`param name = value`, untyped): in a
// .bicepparam file each such `param` keyword is read as `var` (same expression grammar, same columns).
'use strict';
const fs = require('fs');
const Parser = require('tree-sitter');
const Bicep = require('tree-sitter-bicep');

const parser = new Parser();
parser.setLanguage(Bicep);

const leafText = new Set(['identifier', 'property_identifier', 'string_content', 'comment', 'number', 'boolean', 'null', 'escape_sequence', 'primitive_type']);

function toJSON(node, field) {
  const out = { t: node.type, r: node.startPosition.row + 1, b: node.startIndex, e: node.endIndex };
  if (field) out.f = field;
  if (leafText.has(node.type) || node.namedChildCount === 0) out.x = node.text;
  if (node.type === 'resource_declaration') {
    for (let i = 0; i < node.childCount; i++) {
      if (node.child(i).type === 'existing') out.existing = true;
    }
  }
  const kids = [];
  for (let i = 0; i < node.childCount; i++) {
    const c = node.child(i);
    if (!c.isNamed) continue;
    kids.push(toJSON(c, node.fieldNameForChild(i)));
  }
  if (kids.length) out.c = kids;
  return out;
}

function errors(node, acc) {
  if (node.type === 'ERROR' || node.isMissing) {
    acc.push({ r: node.startPosition.row + 1, col: node.startPosition.column + 1, missing: node.isMissing, t: node.type, text: node.text.slice(0, 60) });
    if (node.type === 'ERROR') return acc;
  }
  for (let i = 0; i < node.childCount; i++) errors(node.child(i), acc);
  return acc;
}

const out = [];
for (const file of process.argv.slice(2)) {
  let src = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.bicepparam')) src = src.replace(/^(\s*)param(\s)/gm, '$1var  $2');
  const tree = parser.parse(src);
  out.push({ file, errors: errors(tree.rootNode, []), hasError: tree.rootNode.hasError, tree: toJSON(tree.rootNode) });
}
process.stdout.write(JSON.stringify(out));
