#!/usr/bin/env node
// The installed `cairn` command. Written for any Node, however old, to parse
// (ES5, CommonJS, no import()), so that an unsupported one prints which
// versions cairn runs on instead of a syntax or module error; the real entry
// is loaded only once this Node is known to be one of them.
"use strict";

// package.json's engines.node: alternatives such as "^22.16.0 || >=24.0.0".
var range = require("../package.json").engines.node;
var alternatives = range.split("||");
var have = process.versions.node;

function parse(version) {
  var parts = version.split(".");
  return [Number(parts[0]), Number(parts[1]), Number(parts[2])];
}

function atLeast(a, b) {
  var i;
  for (i = 0; i < 3; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return true;
}

function alternative(text) {
  var m = /^\s*(\^|>=)(\d+\.\d+\.\d+)\s*$/.exec(text);
  if (!m) throw new Error("engines.node in package.json: unsupported range " + range);
  return { caret: m[1] === "^", floor: m[2] };
}

function admits(a) {
  var version = parse(have);
  var floor = parse(a.floor);
  return atLeast(version, floor) && (!a.caret || version[0] === floor[0]);
}

function describe(a) {
  return a.floor + (a.caret ? " or a later " + parse(a.floor)[0] + ".x" : " or later");
}

var parsed = alternatives.map(alternative);
if (!parsed.some(admits)) {
  console.error(
    "cairn needs Node.js " + parsed.map(describe).join(", or ") + " (this is " + have + ")"
  );
  process.exit(1);
}

require("./launch.cjs");
