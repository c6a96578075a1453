// The least any wasm widget of natter's size costs this page: its bytes fetched (no compile).
fetch("/widget/natter_wasm_bg.wasm").then((r) => r.arrayBuffer()).then(() => { window.readyAt = performance.now(); });
