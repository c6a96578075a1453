// natter's .wasm fetched and compiled (streaming), not instantiated: the floor under the widget's
// own start-up (instantiate, loadChat, render).
WebAssembly.compileStreaming(fetch("/widget/natter_wasm_bg.wasm")).then(() => { window.readyAt = performance.now(); });
