#!/usr/bin/env node
// The CLI by its older entry name: runs main.cjs, the package's bin (see
// there why the entry is CommonJS). Scripts and service units written by
// earlier versions start dist/src/cli/main.js.

import "./main.cjs";
