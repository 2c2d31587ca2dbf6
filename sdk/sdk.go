// Package sdk embeds the browser chat SDK (the npm package in sdk/js) and
// its demo page, so that lethe serve answers /demo/chat from the binary
// alone: running Lethe needs no Node, no build step and no CDN.
package sdk

import _ "embed"

// Script is the SDK's ES module, as published (sdk/js/src/lethe-chat.js).
//
//go:embed js/src/lethe-chat.js
var Script []byte

// DemoPage is the demo chat page served at /demo/chat.
//
//go:embed js/demo/index.html
var DemoPage []byte

// DemoScript is the demo page's own script (the page allows no inline
// script).
//
//go:embed js/demo/demo.js
var DemoScript []byte
