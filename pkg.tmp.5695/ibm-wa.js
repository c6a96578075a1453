(function () {
let wasm_bindgen = (function(exports) {
    

    /**
     * One chat widget. Create it with `loadChat(options)`. Clones are handles to the same widget.
     *
     * `destroy()` drops this handle's strong reference, so the widget's memory is freed at once,
     * not when the JS wrapper is garbage-collected.
     */
    class NatterChat {
        static __wrap(ptr) {
            const obj = Object.create(NatterChat.prototype);
            obj.__wbg_ptr = ptr;
            NatterChatFinalization.register(obj, obj.__wbg_ptr, obj);
            return obj;
        }
        
       
        /**
         * Gives the widget the JS object handlers receive as `instance`, and the function that
         * reads the page (`natterPage(options)` of js/page.js). Called by `loadChat`.
         * @param {any} instance
         * @param {any} page
         */
        _attach(instance, page) {
            wasm.natterchat__attach(this.__wbg_ptr, addHeapObject(instance), addHeapObject(page));
        }
        /**
         * Validates options and creates the (unrendered) widget. Called by `loadChat`.
         * @param {any} options
         * @returns {NatterChat}
         */
        static _create(options) {
            const ret = wasm.natterchat__create(addHeapObject(options));
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return NatterChat.__wrap(ret[0]);
        }
        /**
         * Internal (tests and benchmarks): handles `data` (one stream event's JSON) as if it came
         * from the server's event stream.
         * @param {any} data
         */
        _feed(data) {
            const ret = wasm.natterchat__feed(this.__wbg_ptr, addHeapObject(data));
            if (ret[1]) {
                throw takeObject(ret[0]);
            }
        }
        /**
         * Internal (benchmarks): renders pending streamed text now instead of at the next frame.
         */
        _flush() {
            const ret = wasm.natterchat__flush(this.__wbg_ptr);
            if (ret[1]) {
                throw takeObject(ret[0]);
            }
        }
        /**
         * `changeViewProperties({maximized})`.
         * @param {any} v
         * @returns {Promise<any>}
         */
        changeViewProperties(v) {
            const ret = wasm.natterchat_changeViewProperties(this.__wbg_ptr, addHeapObject(v));
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return takeObject(ret[0]);
        }
        /**
         * `changeView("launcher" | "mainWindow" | {launcher, mainWindow})`.
         * @param {any} v
         * @returns {Promise<any>}
         */
        changeView(v) {
            const ret = wasm.natterchat_changeView(this.__wbg_ptr, addHeapObject(v));
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return takeObject(ret[0]);
        }
        /**
         * Removes every node, listener, timer and handler. Idempotent; afterwards every other
         * method throws.
         */
        destroy() {
            wasm.natterchat_destroy(this.__wbg_ptr);
        }
        /**
         * `{view: {launcher, mainWindow, maximized}, threadId, locale, ready}`, and for the attach
         * module (js/attach.js), internal: `_host`, the host element whose shadow root holds the
         * window (once rendered), and `_token`, the auth token its uploads carry.
         * @returns {any}
         */
        getState() {
            const ret = wasm.natterchat_getState(this.__wbg_ptr);
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return takeObject(ret[0]);
        }
        /**
         * Loads a thread's history through `pre:threadLoaded`.
         * @param {any} id
         * @returns {Promise<any>}
         */
        loadThreadById(id) {
            const ret = wasm.natterchat_loadThreadById(this.__wbg_ptr, addHeapObject(id));
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return takeObject(ret[0]);
        }
        /**
         * `off(type, handler)` removes that handler; `off(type)` every handler of `type`.
         * @param {any} a
         * @param {any} b
         * @returns {any}
         */
        off(a, b) {
            const ret = wasm.natterchat_off(this.__wbg_ptr, addHeapObject(a), addHeapObject(b));
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return takeObject(ret[0]);
        }
        /**
         * `on(type, handler)`, `on({type, handler})` or `on([...])`; returns the instance.
         * @param {any} a
         * @param {any} b
         * @returns {any}
         */
        on(a, b) {
            const ret = wasm.natterchat_on(this.__wbg_ptr, addHeapObject(a), addHeapObject(b));
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return takeObject(ret[0]);
        }
        /**
         * Like `on`, but the handler is removed before its first call.
         * @param {any} a
         * @param {any} b
         * @returns {any}
         */
        once(a, b) {
            const ret = wasm.natterchat_once(this.__wbg_ptr, addHeapObject(a), addHeapObject(b));
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return takeObject(ret[0]);
        }
        /**
         * Renders the widget; resolves after `chat:ready` handlers ran. Idempotent.
         * @returns {Promise<any>}
         */
        render() {
            const ret = wasm.natterchat_render(this.__wbg_ptr);
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return takeObject(ret[0]);
        }
        /**
         * Clears the transcript and forgets the thread, through `pre:restartConversation` and
         * `restartConversation`.
         * @returns {Promise<any>}
         */
        restartConversation() {
            const ret = wasm.natterchat_restartConversation(this.__wbg_ptr);
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return takeObject(ret[0]);
        }
        /**
         * Sends a message through `pre:send` and `send`; `{silent: true}` keeps it out of the
         * transcript, `{label}` shows that text instead of the one sent, `{context}` (an object)
         * goes to the bot with it, `{attachments}` (files uploaded to the thread, each with its
         * `id`) go with it — the text may then be blank. Resolves after the `send` handlers ran.
         * @param {any} text
         * @param {any} options
         * @returns {Promise<any>}
         */
        send(text, options) {
            const ret = wasm.natterchat_send(this.__wbg_ptr, addHeapObject(text), addHeapObject(options));
            if (ret[2]) {
                throw takeObject(ret[1]);
            }
            return takeObject(ret[0]);
        }
        /**
         * Replaces the auth token (kept in memory only).
         * @param {any} token
         */
        updateAuthToken(token) {
            const ret = wasm.natterchat_updateAuthToken(this.__wbg_ptr, addHeapObject(token));
            if (ret[1]) {
                throw takeObject(ret[0]);
            }
        }
        /**
         * Changes the locale (the `lang` of the window).
         * @param {any} locale
         */
        updateLocale(locale) {
            const ret = wasm.natterchat_updateLocale(this.__wbg_ptr, addHeapObject(locale));
            if (ret[1]) {
                throw takeObject(ret[0]);
            }
        }
    }
    exports.NatterChat = NatterChat;
    function __wbg_get_imports() {
        const import0 = {
            __proto__: null,
            w$2o: function(arg0) {
                const v = getObject(arg0);
                const ret = typeof(v) === 'boolean' ? v : undefined;
                return isLikeNone(ret) ? 0xFFFFFF : ret ? 1 : 0;
            },
            w$2p: function(arg0) {
                const ret = typeof(getObject(arg0)) === 'function';
                return ret;
            },
            w$2i: function(arg0) {
                const ret = getObject(arg0) === null;
                return ret;
            },
            w$2k: function(arg0) {
                const val = getObject(arg0);
                const ret = typeof(val) === 'object' && val !== null;
                return ret;
            },
            w$2l: function(arg0) {
                const ret = typeof(getObject(arg0)) === 'string';
                return ret;
            },
            w$2q: function(arg0) {
                const ret = getObject(arg0) === undefined;
                return ret;
            },
            w$2j: function(arg0, arg1) {
                const ret = getObject(arg0) === getObject(arg1);
                return ret;
            },
            w$2m: function(arg0, arg1) {
                const obj = getObject(arg1);
                const ret = typeof(obj) === 'number' ? obj : undefined;
                getDataViewMemory0().setFloat64((arg0 >>> 0) + 8 * 1, isLikeNone(ret) ? 0 : ret, true);
                getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, !isLikeNone(ret), true);
            },
            w$2n: function(arg0, arg1) {
                const obj = getObject(arg1);
                const ret = typeof(obj) === 'string' ? obj : undefined;
                var ptr1 = isLikeNone(ret) ? 0 : passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
                var len1 = WASM_VECTOR_LEN;
                getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);
                getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);
            },
            w$2g: function(arg0, arg1) {
                throw new Error(getStringFromWasm0(arg0, arg1));
            },
            w$2h: function(arg0) {
                const ret = typeof getObject(arg0);
                return addHeapObject(ret);
            },
            w$2r: function(arg0) {
                getObject(arg0)._wbg_cb_unref();
            },
            w$7: function(arg0) {
                getObject(arg0).abort();
            },
            w$1c: function() { return handleError(function (arg0, arg1, arg2, arg3) {
                getObject(arg0).addEventListener(getStringFromWasm0(arg1, arg2), getObject(arg3));
            }, arguments); },
            w$z: function() { return handleError(function (arg0, arg1) {
                getObject(arg0).after(getObject(arg1));
            }, arguments); },
            w$15: function() { return handleError(function (arg0, arg1) {
                const ret = getObject(arg0).appendChild(getObject(arg1));
                return addHeapObject(ret);
            }, arguments); },
            w$1n: function() { return handleError(function (arg0, arg1, arg2) {
                getObject(arg0).appendData(getStringFromWasm0(arg1, arg2));
            }, arguments); },
            w$18: function() { return handleError(function (arg0, arg1) {
                const ret = getObject(arg0).attachShadow(getObject(arg1));
                return addHeapObject(ret);
            }, arguments); },
            w$v: function() { return handleError(function (arg0, arg1) {
                getObject(arg0).before(getObject(arg1));
            }, arguments); },
            w$g: function(arg0, arg1, arg2) {
                const ret = getObject(arg0).bind(getObject(arg1), getObject(arg2));
                return addHeapObject(ret);
            },
            w$h: function(arg0, arg1, arg2, arg3) {
                const ret = getObject(arg0).bind(getObject(arg1), getObject(arg2), getObject(arg3));
                return addHeapObject(ret);
            },
            w$i: function(arg0, arg1, arg2, arg3, arg4) {
                const ret = getObject(arg0).bind(getObject(arg1), getObject(arg2), getObject(arg3), getObject(arg4));
                return addHeapObject(ret);
            },
            w$23: function() { return handleError(function (arg0, arg1) {
                const ret = getObject(arg0).call(getObject(arg1));
                return addHeapObject(ret);
            }, arguments); },
            w$e: function() { return handleError(function (arg0, arg1, arg2) {
                const ret = getObject(arg0).call(getObject(arg1), getObject(arg2));
                return addHeapObject(ret);
            }, arguments); },
            w$f: function() { return handleError(function (arg0, arg1, arg2, arg3) {
                const ret = getObject(arg0).call(getObject(arg1), getObject(arg2), getObject(arg3));
                return addHeapObject(ret);
            }, arguments); },
            w$j: function(arg0) {
                clearTimeout(arg0);
            },
            w$19: function() { return handleError(function (arg0, arg1, arg2) {
                const ret = getObject(arg0).closest(getStringFromWasm0(arg1, arg2));
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            }, arguments); },
            w$12: function() { return handleError(function (arg0, arg1, arg2) {
                const ret = getObject(arg0).createElement(getStringFromWasm0(arg1, arg2));
                return addHeapObject(ret);
            }, arguments); },
            w$13: function(arg0, arg1, arg2) {
                const ret = getObject(arg0).createTextNode(getStringFromWasm0(arg1, arg2));
                return addHeapObject(ret);
            },
            w$24: function(arg0) {
                const ret = Object.entries(getObject(arg0));
                return addHeapObject(ret);
            },
            w$q: function(arg0, arg1, arg2) {
                console.error(getStringFromWasm0(arg0, arg1), getObject(arg2));
            },
            w$p: function(arg0, arg1, arg2) {
                const ret = fetch(getStringFromWasm0(arg0, arg1), getObject(arg2));
                return addHeapObject(ret);
            },
            w$11: function() { return handleError(function (arg0) {
                getObject(arg0).focus();
            }, arguments); },
            w$1u: function(arg0) {
                const ret = Array.from(getObject(arg0));
                return addHeapObject(ret);
            },
            w$1a: function(arg0, arg1, arg2, arg3) {
                const ret = getObject(arg1).getAttribute(getStringFromWasm0(arg2, arg3));
                var ptr1 = isLikeNone(ret) ? 0 : passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
                var len1 = WASM_VECTOR_LEN;
                getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);
                getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);
            },
            w$1d: function() { return handleError(function (arg0, arg1, arg2, arg3) {
                const ret = getObject(arg1).getItem(getStringFromWasm0(arg2, arg3));
                var ptr1 = isLikeNone(ret) ? 0 : passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
                var len1 = WASM_VECTOR_LEN;
                getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);
                getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);
            }, arguments); },
            w$2a: function() { return handleError(function (arg0, arg1) {
                const ret = Reflect.get(getObject(arg0), getObject(arg1));
                return addHeapObject(ret);
            }, arguments); },
            w$8: function(arg0, arg1) {
                const ret = getObject(arg0)[arg1 >>> 0];
                return addHeapObject(ret);
            },
            w$1q: function(arg0) {
                let result;
                try {
                    result = getObject(arg0) instanceof Element;
                } catch (_) {
                    result = false;
                }
                const ret = result;
                return ret;
            },
            w$s: function(arg0) {
                let result;
                try {
                    result = getObject(arg0) instanceof Promise;
                } catch (_) {
                    result = false;
                }
                const ret = result;
                return ret;
            },
            w$1w: function(arg0) {
                const ret = Array.isArray(getObject(arg0));
                return ret;
            },
            w$1k: function(arg0) {
                const ret = getObject(arg0).isConnected;
                return ret;
            },
            w$25: function(arg0, arg1) {
                const ret = Object.is(getObject(arg0), getObject(arg1));
                return ret;
            },
            w$1e: function(arg0, arg1) {
                const ret = getObject(arg0).item(arg1 >>> 0);
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            },
            w$20: function(arg0) {
                const ret = getObject(arg0).length;
                return ret;
            },
            w$1b: function(arg0) {
                const ret = getObject(arg0).length;
                return ret;
            },
            w$9: function(arg0) {
                const ret = getObject(arg0).length;
                return ret;
            },
            w$1z: function(arg0) {
                const ret = new Uint8Array(getObject(arg0));
                return addHeapObject(ret);
            },
            w$1v: function() {
                const ret = new Array();
                return addHeapObject(ret);
            },
            w$27: function(arg0, arg1) {
                const ret = new TypeError(getStringFromWasm0(arg0, arg1));
                return addHeapObject(ret);
            },
            w$22: function(arg0, arg1) {
                const ret = new Error(getStringFromWasm0(arg0, arg1));
                return addHeapObject(ret);
            },
            w$1: function() {
                const ret = new CSSStyleSheet();
                return addHeapObject(ret);
            },
            w$4: function(arg0, arg1) {
                try {
                    var state0 = {a: arg0, b: arg1};
                    var cb0 = (arg0, arg1) => {
                        const a = state0.a;
                        state0.a = 0;
                        try {
                            return w$30(a, state0.b, arg0, arg1);
                        } finally {
                            state0.a = a;
                        }
                    };
                    const ret = new Promise(cb0);
                    return addHeapObject(ret);
                } finally {
                    state0.a = 0;
                }
            },
            w$26: function() {
                const ret = new Object();
                return addHeapObject(ret);
            },
            w$c: function() {
                const ret = new AbortController();
                return addHeapObject(ret);
            },
            w$1x: function(arg0) {
                const ret = Array.of(getObject(arg0));
                return addHeapObject(ret);
            },
            w$1y: function(arg0, arg1, arg2) {
                const ret = Array.of(getObject(arg0), getObject(arg1), getObject(arg2));
                return addHeapObject(ret);
            },
            w$5: function(arg0, arg1, arg2, arg3, arg4, arg5) {
                const ret = open(getStringFromWasm0(arg0, arg1), getStringFromWasm0(arg2, arg3), getStringFromWasm0(arg4, arg5));
                return addHeapObject(ret);
            },
            w$1l: function(arg0) {
                const ret = getObject(arg0).ownerDocument;
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            },
            w$1m: function(arg0) {
                const ret = getObject(arg0).parentElement;
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            },
            w$k: function() { return handleError(function (arg0, arg1) {
                const ret = JSON.parse(getStringFromWasm0(arg0, arg1));
                return addHeapObject(ret);
            }, arguments); },
            w$1o: function(arg0) {
                getObject(arg0).preventDefault();
            },
            w$28: function(arg0, arg1, arg2) {
                Uint8Array.prototype.set.call(getArrayU8FromWasm0(arg0, arg1), getObject(arg2));
            },
            w$a: function(arg0, arg1) {
                const ret = getObject(arg0).push(getObject(arg1));
                return ret;
            },
            w$t: function() { return handleError(function (arg0, arg1, arg2) {
                const ret = getObject(arg0).querySelectorAll(getStringFromWasm0(arg1, arg2));
                return addHeapObject(ret);
            }, arguments); },
            w$n: function() { return handleError(function (arg0, arg1, arg2) {
                const ret = getObject(arg0).querySelector(getStringFromWasm0(arg1, arg2));
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            }, arguments); },
            w$1t: function(arg0) {
                const ret = getObject(arg0).queueMicrotask;
                return addHeapObject(ret);
            },
            w$21: function(arg0) {
                queueMicrotask(getObject(arg0));
            },
            w$29: function() {
                const ret = Math.random();
                return ret;
            },
            w$w: function() { return handleError(function (arg0, arg1, arg2) {
                getObject(arg0).removeAttribute(getStringFromWasm0(arg1, arg2));
            }, arguments); },
            w$1i: function() { return handleError(function (arg0, arg1, arg2, arg3) {
                getObject(arg0).removeEventListener(getStringFromWasm0(arg1, arg2), getObject(arg3));
            }, arguments); },
            w$1g: function() { return handleError(function (arg0, arg1, arg2) {
                getObject(arg0).removeItem(getStringFromWasm0(arg1, arg2));
            }, arguments); },
            w$10: function(arg0) {
                getObject(arg0).remove();
            },
            w$2: function(arg0, arg1, arg2) {
                getObject(arg0).replaceSync(getStringFromWasm0(arg1, arg2));
            },
            w$0: function(arg0) {
                const ret = requestAnimationFrame(getObject(arg0));
                return ret;
            },
            w$m: function(arg0) {
                const ret = Promise.resolve(getObject(arg0));
                return addHeapObject(ret);
            },
            w$1s: function(arg0) {
                const ret = Promise.resolve(getObject(arg0));
                return addHeapObject(ret);
            },
            w$16: function(arg0) {
                const ret = getObject(arg0).scrollHeight;
                return ret;
            },
            w$x: function() { return handleError(function (arg0, arg1, arg2, arg3, arg4) {
                getObject(arg0).setAttribute(getStringFromWasm0(arg1, arg2), getStringFromWasm0(arg3, arg4));
            }, arguments); },
            w$1h: function() { return handleError(function (arg0, arg1, arg2, arg3, arg4) {
                getObject(arg0).setItem(getStringFromWasm0(arg1, arg2), getStringFromWasm0(arg3, arg4));
            }, arguments); },
            w$1j: function() { return handleError(function (arg0, arg1, arg2, arg3, arg4) {
                getObject(arg0).setProperty(getStringFromWasm0(arg1, arg2), getStringFromWasm0(arg3, arg4));
            }, arguments); },
            w$l: function(arg0, arg1) {
                const ret = setTimeout(getObject(arg0), arg1 >>> 0);
                return ret;
            },
            w$2b: function() { return handleError(function (arg0, arg1, arg2) {
                const ret = Reflect.set(getObject(arg0), getObject(arg1), getObject(arg2));
                return ret;
            }, arguments); },
            w$1p: function(arg0, arg1) {
                getObject(arg0).scrollTop = arg1;
            },
            w$14: function(arg0, arg1, arg2) {
                getObject(arg0).textContent = arg1 === 0 ? undefined : getStringFromWasm0(arg1, arg2);
            },
            w$17: function(arg0) {
                const ret = getObject(arg0).shadowRoot;
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            },
            w$d: function(arg0) {
                const ret = getObject(arg0).signal;
                return addHeapObject(ret);
            },
            w$2c: function() {
                const ret = typeof globalThis === 'undefined' ? undefined : globalThis;
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            },
            w$r: function() {
                const ret = globalThis;
                return addHeapObject(ret);
            },
            w$2e: function() {
                const ret = typeof global === 'undefined' ? undefined : global;
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            },
            w$2d: function() {
                const ret = typeof self === 'undefined' ? undefined : self;
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            },
            w$2f: function() {
                const ret = typeof window === 'undefined' ? undefined : window;
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            },
            w$o: function() { return handleError(function (arg0) {
                const ret = JSON.stringify(getObject(arg0));
                return addHeapObject(ret);
            }, arguments); },
            w$u: function(arg0) {
                const ret = getObject(arg0).style;
                return addHeapObject(ret);
            },
            w$1f: function(arg0) {
                const ret = getObject(arg0).target;
                return isLikeNone(ret) ? 0 : addHeapObject(ret);
            },
            w$3: function(arg0, arg1, arg2) {
                const ret = getObject(arg0).then(getObject(arg1), getObject(arg2));
                return addHeapObject(ret);
            },
            w$b: function(arg0, arg1, arg2) {
                const ret = getObject(arg0).then(getObject(arg1), getObject(arg2));
                return addHeapObject(ret);
            },
            w$1r: function(arg0, arg1) {
                const ret = getObject(arg0).then(getObject(arg1));
                return addHeapObject(ret);
            },
            w$y: function() { return handleError(function (arg0, arg1, arg2, arg3) {
                const ret = getObject(arg0).toggleAttribute(getStringFromWasm0(arg1, arg2), arg3 !== 0);
                return ret;
            }, arguments); },
            w$6: function(arg0, arg1) {
                console.warn(getStringFromWasm0(arg0, arg1));
            },
            w$2s: function(arg0, arg1) {
                // Cast intrinsic for `Closure(Closure { owned: true, function: Function { arguments: [Externref], shim_idx: 59, ret: Result(Unit), inner_ret: Some(Result(Unit)) }, mutable: true }) -> Externref`.
                const ret = makeMutClosure(arg0, arg1, w$32);
                return addHeapObject(ret);
            },
            w$2t: function(arg0, arg1) {
                // Cast intrinsic for `Closure(Closure { owned: true, function: Function { arguments: [NamedExternref("Event")], shim_idx: 5, ret: Unit, inner_ret: Some(Unit) }, mutable: true }) -> Externref`.
                const ret = makeMutClosure(arg0, arg1, w$34);
                return addHeapObject(ret);
            },
            w$2u: function(arg0, arg1) {
                // Cast intrinsic for `Closure(Closure { owned: true, function: Function { arguments: [U32, U32, U32, Externref], shim_idx: 8, ret: Unit, inner_ret: Some(Unit) }, mutable: true }) -> Externref`.
                const ret = makeMutClosure(arg0, arg1, w$2z);
                return addHeapObject(ret);
            },
            w$2v: function(arg0, arg1) {
                // Cast intrinsic for `Closure(Closure { owned: true, function: Function { arguments: [U32, U32], shim_idx: 7, ret: Unit, inner_ret: Some(Unit) }, mutable: true }) -> Externref`.
                const ret = makeMutClosure(arg0, arg1, w$31);
                return addHeapObject(ret);
            },
            w$2w: function(arg0, arg1) {
                // Cast intrinsic for `Closure(Closure { owned: true, function: Function { arguments: [U32], shim_idx: 6, ret: Unit, inner_ret: Some(Unit) }, mutable: true }) -> Externref`.
                const ret = makeMutClosure(arg0, arg1, w$33);
                return addHeapObject(ret);
            },
            w$2x: function(arg0) {
                // Cast intrinsic for `F64 -> Externref`.
                const ret = arg0;
                return addHeapObject(ret);
            },
            w$2y: function(arg0, arg1) {
                // Cast intrinsic for `Ref(String) -> Externref`.
                const ret = getStringFromWasm0(arg0, arg1);
                return addHeapObject(ret);
            },
            __wbindgen_object_clone_ref: function(arg0) {
                const ret = getObject(arg0);
                return addHeapObject(ret);
            },
            __wbindgen_object_drop_ref: function(arg0) {
                takeObject(arg0);
            },
        };
        return {
            __proto__: null,
            "w": import0,
        };
    }

    function w$34(arg0, arg1, arg2) {
        wasm.w$34(arg0, arg1, addHeapObject(arg2));
    }

    function w$33(arg0, arg1, arg2) {
        wasm.w$33(arg0, arg1, arg2);
    }

    function w$32(arg0, arg1, arg2) {
        const ret = wasm.w$32(arg0, arg1, addHeapObject(arg2));
        if (ret[1]) {
            throw takeObject(ret[0]);
        }
    }

    function w$30(arg0, arg1, arg2, arg3) {
        wasm.w$30(arg0, arg1, addHeapObject(arg2), addHeapObject(arg3));
    }

    function w$31(arg0, arg1, arg2, arg3) {
        wasm.w$31(arg0, arg1, arg2, arg3);
    }

    function w$2z(arg0, arg1, arg2, arg3, arg4, arg5) {
        const val1 = +arg2;
        const val2 = +arg3;
        const val3 = +arg4;
        wasm.w$2z(arg0, arg1, val1, val2, val3, addHeapObject(arg5));
    }

    const NatterChatFinalization = (typeof FinalizationRegistry === 'undefined')
        ? { register: () => {}, unregister: () => {} }
        : new FinalizationRegistry(ptr => wasm.__wbg_natterchat_free(ptr, 1));

    function addHeapObject(obj) {
        if (heap_next === heap.length) heap.push(heap.length + 1);
        const idx = heap_next;
        heap_next = heap[idx];

        heap[idx] = obj;
        return idx;
    }

    const CLOSURE_DTORS = (typeof FinalizationRegistry === 'undefined')
        ? { register: () => {}, unregister: () => {} }
        : new FinalizationRegistry(state => wasm.__wbindgen_destroy_closure(state.a, state.b));

    function dropObject(idx) {
        if (idx < 1028) return;
        heap[idx] = heap_next;
        heap_next = idx;
    }

    function getArrayU8FromWasm0(ptr, len) {
        ptr = ptr >>> 0;
        return getUint8ArrayMemory0().subarray(ptr / 1, ptr / 1 + len);
    }

    let cachedDataViewMemory0 = null;
    function getDataViewMemory0() {
        if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer.detached === true || (cachedDataViewMemory0.buffer.detached === undefined && cachedDataViewMemory0.buffer !== wasm.memory.buffer)) {
            cachedDataViewMemory0 = new DataView(wasm.memory.buffer);
        }
        return cachedDataViewMemory0;
    }

    function getStringFromWasm0(ptr, len) {
        ptr = ptr >>> 0;
        return decodeText(getUint8ArrayMemory0().subarray(ptr, ptr + len));
    }

    let cachedUint8ArrayMemory0 = null;
    function getUint8ArrayMemory0() {
        if (cachedUint8ArrayMemory0 === null || cachedUint8ArrayMemory0.byteLength === 0) {
            cachedUint8ArrayMemory0 = new Uint8Array(wasm.memory.buffer);
        }
        return cachedUint8ArrayMemory0;
    }

    function getObject(idx) { return heap[idx]; }

    function handleError(f, args) {
        try {
            return f.apply(this, args);
        } catch (e) {
            wasm.__wbindgen_exn_store(addHeapObject(e));
        }
    }

    let heap = new Array(1024).fill(undefined);
    heap.push(undefined, null, true, false);

    let heap_next = heap.length;

    function isLikeNone(x) {
        return x === undefined || x === null;
    }

    function makeMutClosure(arg0, arg1, f) {
        const state = { a: arg0, b: arg1, cnt: 1 };
        const real = (...args) => {

            // First up with a closure we increment the internal reference
            // count. This ensures that the Rust closure environment won't
            // be deallocated while we're invoking it.
            state.cnt++;
            const a = state.a;
            state.a = 0;
            try {
                return f(a, state.b, ...args);
            } finally {
                state.a = a;
                real._wbg_cb_unref();
            }
        };
        real._wbg_cb_unref = () => {
            if (--state.cnt === 0) {
                wasm.__wbindgen_destroy_closure(state.a, state.b);
                state.a = 0;
                CLOSURE_DTORS.unregister(state);
            }
        };
        CLOSURE_DTORS.register(real, state, state);
        return real;
    }

    function passStringToWasm0(arg, malloc, realloc) {
        if (realloc === undefined) {
            const buf = cachedTextEncoder.encode(arg);
            const ptr = malloc(buf.length, 1) >>> 0;
            getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
            WASM_VECTOR_LEN = buf.length;
            return ptr;
        }

        let len = arg.length;
        let ptr = malloc(len, 1) >>> 0;

        const mem = getUint8ArrayMemory0();

        let offset = 0;

        for (; offset < len; offset++) {
            const code = arg.charCodeAt(offset);
            if (code > 0x7F) break;
            mem[ptr + offset] = code;
        }
        if (offset !== len) {
            if (offset !== 0) {
                arg = arg.slice(offset);
            }
            ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
            const view = getUint8ArrayMemory0().subarray(ptr + offset, ptr + len);
            const ret = cachedTextEncoder.encodeInto(arg, view);

            offset += ret.written;
            ptr = realloc(ptr, len, offset, 1) >>> 0;
        }

        WASM_VECTOR_LEN = offset;
        return ptr;
    }

    function takeObject(idx) {
        const ret = getObject(idx);
        dropObject(idx);
        return ret;
    }

    let cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
    cachedTextDecoder.decode();
    function decodeText(bytes) {
        return cachedTextDecoder.decode(bytes);
    }

    const cachedTextEncoder = new TextEncoder();

    let WASM_VECTOR_LEN = 0;

    let wasmModule, wasmInstance, wasm;
    function __wbg_finalize_init(instance, module) {
        wasmInstance = instance;
        wasm = instance.exports;
        wasmModule = module;
        cachedDataViewMemory0 = null;
        cachedUint8ArrayMemory0 = null;
        return wasm;
    }

    async function __wbg_load(module, imports) {
        if (typeof Response === 'function' && module instanceof Response) {
            if (!module.ok) {
                throw new Error(`failed to fetch Wasm: ${module.status} ${module.statusText} fetching '${module.url}'`);
            }

            if (typeof WebAssembly.instantiateStreaming === 'function') {
                try {
                    return await WebAssembly.instantiateStreaming(module, imports);
                } catch (e) {
                    const validResponse = expectedResponseType(module.type);

                    if (validResponse && module.headers.get('Content-Type') !== 'application/wasm') {
                        console.warn("natter: the .wasm is not served as application/wasm, so it compiles after its download (slower):", e);

                    } else { throw e; }
                }
            }

            const bytes = await module.arrayBuffer();
            return await WebAssembly.instantiate(bytes, imports);
        } else {
            const instance = await WebAssembly.instantiate(module, imports);

            if (instance instanceof WebAssembly.Instance) {
                return { instance, module };
            } else {
                return instance;
            }
        }

        function expectedResponseType(type) {
            switch (type) {
                case 'basic': case 'cors': case 'default': return true;
            }
            return false;
        }
    }

    

    let __wbg_init_promise;
    async function __wbg_init(module_or_path) {
        if (wasm !== undefined) return wasm;
        if (__wbg_init_promise === undefined) {
            __wbg_init_promise = __wbg_init_once(module_or_path);
            __wbg_init_promise.catch(() => { __wbg_init_promise = undefined; });
        }
        return __wbg_init_promise;
    }

    async function __wbg_init_once(module_or_path) {

        if (module_or_path !== undefined) ({module_or_path} = module_or_path);

        
        const imports = __wbg_get_imports();

        if (typeof module_or_path === 'string' || (typeof Request === 'function' && module_or_path instanceof Request) || (typeof URL === 'function' && module_or_path instanceof URL)) {
            module_or_path = fetch(module_or_path);
        }

        const { instance, module } = await __wbg_load(await module_or_path, imports);

        return __wbg_finalize_init(instance, module);
    }

    return Object.assign(__wbg_init, exports);
})({ __proto__: null });
/* Shared start-up of the classic-script loaders (embed.js and the IBM compatibility loaders in
 * js/ibm/). scripts/build-widget puts this file after wasm-bindgen's classic-script glue
 * (`--target no-modules`, which defines `wasm_bindgen`) and before the loader, all in one
 * function scope, so nothing here becomes a global of the host page.
 *
 * natterStart(wasmBase) starts fetching natter_wasm_bg.wasm from that folder at once and
 * resolves to the NatterChat class once the wasm is compiled and the document is parsed (an
 * async script may run before <body>, or before an `element` the page names, exists).
 */
/* global wasm_bindgen */
// eslint-disable-next-line no-unused-vars
function natterStart(wasmBase) {
  var parsed = new Promise(function (done) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", done, { once: true });
    else done();
  });
  return Promise.all([wasm_bindgen({ module_or_path: new URL("natter_wasm_bg.wasm", wasmBase) }), parsed]).then(function () {
    return wasm_bindgen.NatterChat;
  });
}
/* The browser session (docs/api.md, "Browser session"): what the widget tells the server about
 * the page. scripts/build-widget puts this file in every loader (embed.js, the IBM loaders, the
 * npm entry), which hands natterPage to NatterChat._create: plain JS reads the page in fewer
 * bytes than the wasm would.
 *
 * natterPage(options) checks options.context (a plain object of JSON values, at most 4096
 * bytes as JSON: it travels in every session, and the server takes sessions up to 8 KB) and
 * returns a function giving the page now, as JSON, with a copy of the context taken now.
 */
// eslint-disable-next-line no-unused-vars
function natterPage(options) {
  var c = options.context, t;
  try {
    t = c == null ? "" : JSON.stringify(c);
  } catch (e) {
    t = null;
  }
  if (c != null && (typeof c != "object" || Array.isArray(c) || !t || t.length > 4096)) {
    throw new TypeError('loadChat: options.context must be a plain object of JSON values, at most 4096 bytes as JSON, e.g. {customerId: "c-42"}');
  }
  c = t ? JSON.parse(t) : undefined;
  return function () {
    var l = location, d = document, n = navigator, s = screen;
    return JSON.stringify({
      url: l.href, title: d.title, referrer: d.referrer, userAgent: n.userAgent, language: n.language,
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone, screen: { width: s.width, height: s.height }, context: c,
    });
  };
}
/* IBM web chat compatibility: an instance shaped like IBM's — classic watsonx Assistant web chat
 * and watsonx Orchestrate embedded chat — over a NatterChat, so host pages written for IBM run
 * on Natter. Only the two IBM loaders (js/ibm/wa.js, js/ibm/wxo.js) carry this file:
 * scripts/build-widget wraps glue + js/boot.js + this file + one loader in one function scope.
 * docs/ibm.md lists what is supported.
 *
 * Invariants:
 * - IBM payload fields are aliases over Natter's event objects (accessors, or the very same
 *   arrays), never copies: what a page writes is what Natter reads back;
 * - an IBM feature Natter lacks (an option, a method, an event) never throws: it warns once,
 *   naming it, and does nothing;
 * - the page's handlers are called as IBM calls them, `handler(event, instance)` with the IBM
 *   instance, through wrappers registered on the NatterChat (so Natter's ordering, awaiting and
 *   timeouts apply unchanged).
 */
/* global natterStart, natterPage */
/* eslint-disable no-unused-vars */

var IBM_SAY = "natter (IBM web chat compatibility): ";
var ibmWarned = {};
function ibmWarn(key, msg) {
  if (ibmWarned[key]) return;
  ibmWarned[key] = 1;
  console.warn(IBM_SAY + msg);
}

// Natter's own event names (an IBM page may use any of them as is).
var IBM_NATIVE = (
  "* chat:ready pre:send send pre:stream:delta pre:receive receive pre:restartConversation restartConversation " +
  "pre:threadLoaded view:pre:change view:change view:properties:pre:change view:properties:change " +
  "userDefinedResponse customEvent feedback authTokenNeeded"
).split(" ");
// IBM names Natter has under another name, or derives from one.
var IBM_ALIASES = {
  identityTokenExpired: "authTokenNeeded",
  customResponse: "userDefinedResponse", // its name before IBM web chat 8.2
  "window:open": "view:change",
  "window:close": "view:change",
  "history:begin": "pre:threadLoaded",
  chatstarted: "chat:ready",
};
// IBM methods Natter has no counterpart for: each warns once and does nothing.
var IBM_UNSUPPORTED = (
  "updateHomeScreenConfig updateLauncherGreetingMessage updateCustomMenuOptions updateCustomHeaderItems " +
  "updateWelcomeScreen updateIsTypingCounter updateIsLoadingCounter updateLanguagePack updateCSSVariables " +
  "updateMainHeaderTitle updateBotName updateBotAvatarImage scrollToMessage showLauncherGreetingMessage " +
  "startTour endTour agentEndConversation requestFocus"
).split(" ");
// Hosts already given a compatibility root (two instances on one page each claim their own).
var ibmClaimed = typeof WeakSet === "function" ? new WeakSet() : { has: function () { return false; }, add: function () {} };

/** One accessor property; `enumerable` for fields IBM pages see, not for ones added to Natter's objects. */
function ibmAlias(obj, key, get, set, enumerable) {
  Object.defineProperty(obj, key, { configurable: true, enumerable: !!enumerable, get: get, set: set });
}

function ibmText(v) {
  return typeof v === "string" ? v : "";
}

/** Warns once about keys of `o` not in `known` (an object of key → 1 or → nested known map). */
function ibmUnknownOptions(what, o, known) {
  var bad = [];
  (function walk(obj, map, prefix) {
    if (!obj || typeof obj !== "object") return;
    Object.keys(obj).forEach(function (k) {
      if (!(k in map)) bad.push(prefix + k);
      else if (typeof map[k] === "object" && !(obj[k] instanceof Element)) walk(obj[k], map[k], prefix + k + ".");
    });
  })(o, known, "");
  if (bad.length) ibmWarn(what, what + ": Natter ignores these options it does not support: " + bad.join(", "));
}

/** The message object (Natter's) with IBM's fields added as aliases: `output.generic` is its
 *  `content`, `history.user_defined` what updateHistoryUserDefined kept for its id. */
function ibmMessage(c, m) {
  if (!m || typeof m !== "object" || Object.prototype.hasOwnProperty.call(m, "output")) return m;
  var output = {};
  ibmAlias(output, "generic", function () { return m.content; }, function (v) { m.content = v; }, true);
  ibmAlias(m, "output", function () { return output; });
  var history = {};
  ibmAlias(history, "user_defined", function () { return c.ud[m.id]; }, function (v) { c.ud[m.id] = v; }, true);
  ibmAlias(m, "history", function () { return history; });
  if (!("context" in m)) ibmAlias(m, "context", function () { return {}; });
  return m;
}

/** Adds the IBM fields of a Natter event of type `t` (idempotent: several handlers share it). */
function ibmShape(c, t, ev) {
  if (!ev || typeof ev !== "object" || c.shaped.has(ev)) return ev;
  c.shaped.add(ev);
  if (t === "pre:send" || t === "send") {
    var m = ev.message;
    var input = {};
    ibmAlias(input, "text", function () { return m.message.content; }, function (v) { m.message.content = v; }, true);
    // `data.context` is the message's context (sent with it); writing one sets it
    if (!m.context) m.context = {};
    ev.data = { input: input, history: { is_welcome_request: false } };
    ibmAlias(ev.data, "context", function () { return m.context; }, function (v) { m.context = v; }, true);
  } else if (t === "pre:receive" || t === "receive") {
    ev.data = ibmMessage(c, ev.message);
  } else if (t === "userDefinedResponse") {
    ev.data = { message: ev.contentItem, element: ev.hostElement, fullMessage: ibmMessage(c, ev.message) };
  } else if (t === "authTokenNeeded") {
    ibmAlias(ev, "identityToken", function () { return ev.authToken; }, function (v) { ev.authToken = v; }, true);
  } else if ((t === "view:change" || t === "view:pre:change") && c.classic) {
    if (c.restoring) ev.reason = "sessionHistory";
    else if (ev.reason === "chatLoaded") ev.reason = "webChatLoaded";
  } else if (t === "pre:threadLoaded") {
    (ev.messages || []).forEach(function (msg) { ibmMessage(c, msg); });
  }
  return ev;
}

/** Whether an IBM handler of type `type` hears this Natter event at all. */
function ibmHears(c, type, ev) {
  if (type === "window:open" || type === "window:close") {
    var opened = !!(ev.newViewState && ev.newViewState.mainWindow);
    var was = !!(ev.oldViewState && ev.oldViewState.mainWindow);
    return opened !== was && opened === (type === "window:open");
  }
  if (type === "userDefinedResponse" || type === "customResponse") return !c.drawn.has(ev);
  // the new, empty thread of a welcome request is no history the page loads
  if (c.adopting && (type === "pre:threadLoaded" || type === "history:begin")) return false;
  return true;
}

function ibmDrop(c, entry) {
  var i = c.reg.indexOf(entry);
  if (i >= 0) c.reg.splice(i, 1);
  c.chat.off(entry.natter, entry.wrapper);
}

/** `on` / `once` / `off` in both IBM forms: `(type, handler)` and `{type, handler}` (or an array). */
function ibmRegister(c, mode, a, b) {
  var list = typeof a === "string" ? [{ type: a, handler: b }] : Array.isArray(a) ? a : [a];
  list.forEach(function (r) {
    var type = r && r.type;
    var fn = r && r.handler;
    if (typeof type !== "string") throw new TypeError(mode + ": expected (type, handler) or {type, handler}");
    if (mode === "off") {
      c.reg.slice().forEach(function (e) {
        if (e.type === type && (fn === undefined || e.fn === fn)) ibmDrop(c, e);
      });
      return;
    }
    var natter = IBM_NATIVE.indexOf(type) >= 0 ? type : IBM_ALIASES[type];
    if (!natter) {
      ibmWarn("event " + type, 'the IBM event "' + type + '" is not supported by Natter: its handlers never run');
      return;
    }
    if (typeof fn !== "function") throw new TypeError(mode + ': the handler for "' + type + '" must be a function');
    var entry = { type: type, natter: natter, fn: fn, once: mode === "once" };
    entry.wrapper = function (ev) {
      if (!ibmHears(c, type, ev)) return;
      if (entry.once) ibmDrop(c, entry);
      ibmShape(c, natter === "*" ? ev.type : natter, ev);
      // IBM Orchestrate's `chatstarted` hands the instance itself to its handler
      var r = fn.call(c.inst, type === "chatstarted" ? c.inst : ev, c.inst);
      if (natter !== "authTokenNeeded") return r;
      return Promise.resolve(r).then(function () {
        if (typeof ev.authToken === "string") c.token = ev.authToken;
      });
    };
    c.reg.push(entry);
    // `once` stays `on` for Natter: the wrapper drops itself when its event is really heard
    c.chat.on(natter, entry.wrapper);
  });
  return c.inst;
}

/** Calls the page's handlers of IBM `type` for an event Natter does not emit itself, one after
 *  another, awaiting each (a throwing handler is reported and the next one runs). */
function ibmRun(c, type, ev) {
  return c.reg
    .filter(function (e) { return e.type === type; })
    .reduce(function (p, e) {
      return p.then(function () { return e.wrapper(ev); }).catch(function (err) {
        console.error('natter: a "' + type + '" handler threw; the next handler runs:', err);
      });
    }, Promise.resolve());
}

/** IBM's welcome request: a `pre:send` with empty text and `history.is_welcome_request`; text a
 *  handler puts in `input.text` is sent (silently) as the first message. `fresh`: no thread yet
 *  (the window is opening): that text replaces the bot's greeting, as on IBM, so the thread is
 *  started here without it and handed to the widget before it would start its own. */
function ibmWelcome(c, fresh) {
  var ev = { type: "pre:send", message: { message: { content: "" } }, silent: true };
  ibmShape(c, "pre:send", ev);
  ev.data.history.is_welcome_request = true;
  return ibmRun(c, "pre:send", ev)
    .then(function () {
      var text = ibmText(ev.message.message.content);
      if (!text.trim()) return;
      if (!fresh) return c.chat.send(text, { silent: true });
      return ibmApi(c, "/v1/bots/" + encodeURIComponent(c.bot) + "/threads", {
        method: "POST",
        body: JSON.stringify({ channel: c.channel, browserSession: JSON.parse(c.page()), greeting: false }),
      })
        .then(function (body) {
          c.adopting = true;
          return c.chat.loadThreadById(body.threadId);
        })
        .then(function () {
          c.adopting = false;
          // not awaited: the window opens while the answer comes
          c.chat.send(text, { silent: true });
        });
    })
    .catch(function (e) {
      console.error(IBM_SAY + "the welcome request could not be sent:", e);
    });
}

function ibmApi(c, path, init) {
  var headers = { "content-type": "application/json" };
  if (c.token) headers.authorization = "Bearer " + c.token;
  return fetch(c.server + path, Object.assign({ headers: headers, cache: "no-store" }, init)).then(function (r) {
    return r.json().then(
      function (body) {
        if (!r.ok) throw new Error((body && body.error && body.error.message) || "HTTP " + r.status);
        return body;
      },
      function () {
        throw new Error("HTTP " + r.status);
      },
    );
  });
}

function ibmThreadPath(tid, tail) {
  return "/v1/threads/" + encodeURIComponent(tid) + tail;
}

/** The Natter host, moved into IBM's root `<div id="WACContainer" class="WACContainer">` (page CSS
 *  is written as `#WACContainer.WACContainer …`); `null` before render. */
function ibmHost(c) {
  if (c.host) return c.host;
  var scope = c.element && c.element.querySelectorAll ? c.element : document;
  var found = scope.querySelectorAll("div[data-natter]");
  for (var i = found.length - 1; i >= 0 && !c.host; i--) if (!ibmClaimed.has(found[i])) c.host = found[i];
  if (!c.host) return null;
  ibmClaimed.add(c.host);
  var root = document.createElement("div");
  if (!document.getElementById("WACContainer")) root.id = "WACContainer";
  root.className = "WACContainer";
  // CSSOM, not a style attribute: fine under a strict style-src
  if (c.element) root.style.setProperty("height", "100%");
  var mount = typeof c.mount === "string" ? document.getElementById(c.mount) : null;
  if (mount && !c.element) mount.appendChild(root);
  else c.host.parentNode.insertBefore(root, c.host);
  root.appendChild(c.host);
  c.root = root;
  c.classes.forEach(function (k) { c.host.classList.add(k); });
  return c.host;
}

/** Draws IBM item types Natter has no renderer for (they reach Natter as custom items). */
function ibmDraw(c, ev) {
  var item = ev.contentItem || {};
  var kind = item.response_type;
  var src = ibmText(item.source);
  if ((kind !== "image" && kind !== "iframe") || !/^https?:\/\//i.test(src)) return;
  c.drawn.add(ev);
  var el = document.createElement(kind === "image" ? "img" : "iframe");
  el.src = src;
  if (kind === "image") el.alt = ibmText(item.alt_text || item.title);
  else {
    // no allow-same-origin: the framed page cannot reach the host page
    el.setAttribute("sandbox", "allow-scripts allow-forms allow-popups");
    el.title = ibmText(item.title);
  }
  el.setAttribute("loading", "lazy");
  el.className = "ibm-web-chat--" + kind;
  ev.hostElement.appendChild(el);
  if (item.title || item.description) {
    var cap = document.createElement("div");
    cap.textContent = [item.title, item.description].filter(Boolean).join(" — ");
    ev.hostElement.appendChild(cap);
  }
}

/** Natter-side handlers the layer needs itself; registered before onLoad, so they run first. */
function ibmInternal(c) {
  var chat = c.chat;
  chat.on("userDefinedResponse", function (ev) { ibmDraw(c, ev); });
  chat.on("pre:threadLoaded", function (ev) {
    var tid = c.loading || chat.getState().threadId;
    c.loading = null;
    var msgs = ev.messages || [];
    var kept = tid
      ? ibmApi(c, ibmThreadPath(tid, "/user_defined")).then(
          function (body) { Object.assign(c.ud, body.messages || {}); },
          function (e) { console.warn(IBM_SAY + "could not read the history's user_defined data:", e); },
        )
      : Promise.resolve();
    // IBM shows history as it was shown: the page's pre:receive rewrites apply again
    return kept.then(function () {
      return msgs.reduce(function (p, m) {
        if (m.sender === "user") return p;
        return p.then(function () {
          return ibmRun(c, "pre:receive", { type: "pre:receive", message: m, history: true });
        });
      }, Promise.resolve());
    });
  });
  // Before the window opens, so before the widget starts a thread (with the greeting): the
  // welcome request may start it without one
  chat.on("view:pre:change", function (ev) {
    if (ev.newViewState.mainWindow && !ev.oldViewState.mainWindow && !c.welcomed && !chat.getState().threadId) {
      c.welcomed = true;
      return ibmWelcome(c, true);
    }
  });
  chat.on("view:change", function (ev) {
    if (!c.session) return;
    try { sessionStorage.setItem(c.viewKey, ev.newViewState.mainWindow ? "1" : "0"); } catch (e) { /* storage blocked: nothing to keep */ }
  });
  chat.on("restartConversation", function () {
    c.ud = {};
    c.welcomed = chat.getState().view.mainWindow;
    if (c.welcomed) ibmWelcome(c);
  });
}

/** After the first render: reopen the window if it was open before a reload (IBM's session
 *  history), or follow a deep link (`?wa_lid=<id>` and `pageLinkConfig.linkIDs[id].text`). */
function ibmAfterRender(c) {
  var chat = c.chat;
  var link = c.links && c.links.linkIDs && c.links.linkIDs[new URLSearchParams(location.search).get("wa_lid")];
  if (link && typeof link.text === "string" && link.text.trim()) {
    c.welcomed = true;
    return chat.changeView("mainWindow").then(function () { return chat.send(link.text); });
  }
  if (c.wasOpen && !chat.getState().view.mainWindow) {
    c.restoring = true;
    return chat.changeView("mainWindow").then(function () { c.restoring = false; });
  }
}

function ibmDetached() {
  return document.createElement("div");
}

/** The IBM-shaped instance over `chat`. `o`: {server, bot, classic, channel, page (the browser
 *  session now, as JSON), element, mount (the id of the element a floating widget's root goes
 *  into), links, session, token}. */
function ibmInstance(chat, o) {
  var c = {
    chat: chat,
    server: o.server,
    bot: o.bot,
    classic: o.classic,
    channel: o.channel,
    page: o.page,
    element: o.element || null,
    mount: o.mount || null,
    links: o.links,
    session: o.session,
    viewKey: "natter.ibm.view:" + o.server + "#" + o.bot,
    token: o.token || null,
    reg: [],
    ud: {},
    classes: [],
    shaped: new WeakSet(),
    drawn: new WeakSet(),
    welcomed: false,
    adopting: false,
    restoring: false,
    loading: null,
    host: null,
    root: null,
  };
  try {
    // read before the first render: its own view:change rewrites the key
    c.wasOpen = c.session && sessionStorage.getItem(c.viewKey) === "1";
  } catch (e) {
    c.wasOpen = false; // storage blocked: no session history
  }
  var rendered = null;
  var mainWindow = {
    addClassName: function (k) {
      if (c.classes.indexOf(k) < 0) c.classes.push(k);
      var h = ibmHost(c);
      if (h) h.classList.add(k);
    },
    removeClassName: function (k) {
      c.classes = c.classes.filter(function (x) { return x !== k; });
      var h = ibmHost(c);
      if (h) h.classList.remove(k);
    },
    getHTMLElement: function () { return ibmHost(c); },
  };
  var writeable = new Proxy({}, {
    get: function (t, k) {
      if (typeof k !== "string" || k === "then") return undefined;
      return t[k] || (t[k] = ibmDetached());
    },
  });
  function writeables() {
    ibmWarn("writeable", "writeable elements are not supported by Natter; what is put in them is not shown");
    return writeable;
  }
  var panel = { hostElement: ibmDetached(), open: function () {}, close: function () {} };
  var inst = {
    on: function (a, b) { return ibmRegister(c, "on", a, b); },
    once: function (a, b) { return ibmRegister(c, "once", a, b); },
    off: function (a, b) { return ibmRegister(c, "off", a, b); },
    render: function () {
      if (!rendered) {
        var p = chat.render();
        ibmHost(c);
        rendered = p.then(function () { return ibmAfterRender(c); });
      }
      return rendered;
    },
    send: function (msg, opts) {
      var silent = !!(opts && opts.silent);
      var text = typeof msg === "string" ? msg : msg && msg.input ? msg.input.text : msg && msg.message ? msg.message.content : undefined;
      if (typeof text !== "string") throw new TypeError('send: pass a string or {input: {text}}, e.g. send({input: {text: "hi"}})');
      var context = msg && typeof msg === "object" && msg.context && typeof msg.context === "object" && !Array.isArray(msg.context) ? msg.context : undefined;
      var label = msg && msg.history && typeof msg.history.label === "string" ? msg.history.label : undefined;
      // IBM: an empty silent send asks for the welcome message
      if (!text.trim()) return silent ? ibmWelcome(c) : Promise.resolve();
      return chat.send(text, { silent: silent, label: label, context: context });
    },
    changeView: function (v) { return chat.changeView(v); },
    changeViewProperties: function (v) { return chat.changeViewProperties(v); },
    restartConversation: function () { return chat.restartConversation(); },
    loadThreadById: function (id) {
      c.loading = id;
      return chat.loadThreadById(id);
    },
    updateIdentityToken: function (t) { inst.updateAuthToken(t); },
    updateAuthToken: function (t) {
      chat.updateAuthToken(t);
      c.token = t || null;
    },
    updateHistoryUserDefined: function (messageId, data) {
      if (typeof messageId !== "string" || !messageId) throw new TypeError("updateHistoryUserDefined: the first argument must be a message id (fullMessage.id)");
      if (!data || typeof data !== "object" || Array.isArray(data)) throw new TypeError("updateHistoryUserDefined: the second argument must be an object, e.g. {selectedIndex: 1}");
      c.ud[messageId] = data;
      var tid = chat.getState().threadId;
      if (!tid) return Promise.resolve();
      return ibmApi(c, ibmThreadPath(tid, "/user_defined"), {
        method: "POST",
        body: JSON.stringify({ messageId: messageId, data: data }),
      }).then(
        function () {},
        function (e) { console.warn(IBM_SAY + "updateHistoryUserDefined: the server did not keep it:", e.message); },
      );
    },
    updateLocale: function (l) { chat.updateLocale(l); },
    getLocale: function () { return chat.getState().locale; },
    getState: function () { return chat.getState(); },
    doAutoScroll: function () {}, // Natter keeps the transcript scrolled itself
    elements: { getMainWindow: function () { return mainWindow; } },
    getWriteableElement: function (name) {
      return writeables()[name];
    },
    destroy: function () {
      chat.destroy();
      if (c.root && c.root.parentNode) c.root.remove();
      c.reg = [];
    },
  };
  IBM_UNSUPPORTED.forEach(function (name) {
    inst[name] = function () {
      ibmWarn(name, "instance." + name + "() is not supported by Natter; it does nothing");
    };
  });
  ibmAlias(inst, "writeableElements", writeables, undefined, true);
  ibmAlias(inst, "customPanels", function () {
    ibmWarn("panels", "custom panels are not supported by Natter; a panel never opens");
    return { getPanel: function () { return panel; } };
  }, undefined, true);
  c.inst = inst;
  ibmInternal(c);
  return inst;
}

/** Only one IBM loader kind per page: the second one is a mistake the page must fix. */
function ibmClaimPage(kind) {
  var other = window.__natterIbmLoader;
  if (other && other !== kind) {
    throw new Error(
      "natter: both IBM web chat loaders are on this page (WatsonAssistantChatEntry.js and wxoLoader.js); " +
        "a page uses one of them: remove the other <script>",
    );
  }
  window.__natterIbmLoader = kind;
}

/** The origin that served this loader (the Natter server), from the running script's URL. */
function ibmOrigin(name) {
  var s = document.currentScript || document.querySelector('script[src*="' + name + '"]');
  return new URL((s && s.src) || location.href).origin;
}

/** Starts a widget for an IBM page: resolves the bot of `o.param=o.id`, creates the NatterChat
 *  with `o.options`, hands the IBM instance to `o.onLoad`; renders after it when `o.render`.
 *  Resolves to the instance (or `null` when it could not start: the reason is logged). */
function ibmStart(o) {
  if (typeof o.id !== "string" || !o.id) {
    console.error(IBM_SAY + o.what + " is required: the id this page used with IBM, mapped to a bot in its bot.toml ([ibm])");
    return Promise.resolve(null);
  }
  var server = o.server;
  var bot = fetch(server + "/ibm/bot?" + o.param + "=" + encodeURIComponent(o.id)).then(function (r) {
    return r.json().then(function (body) {
      if (!r.ok) throw new Error((body && body.error && body.error.message) || "HTTP " + r.status);
      return body.bot;
    });
  });
  return Promise.all([natterStart(server + "/widget/"), bot])
    .then(function (got) {
      // `_channel`: the conversation is recorded as having come through this loader
      var channel = o.classic ? "ibm_web_chat" : "ibm_orchestrate";
      var options = Object.assign({ serverUrl: server, bot: got[1], _channel: channel }, o.options);
      var page = natterPage(options);
      var chat = got[0]._create(options);
      var inst = ibmInstance(chat, {
        server: server,
        bot: got[1],
        classic: o.classic,
        channel: channel,
        page: page,
        element: options.element,
        mount: o.mount,
        links: o.links,
        session: o.session,
        token: options.authToken,
      });
      chat._attach(inst, page);
      return Promise.resolve(typeof o.onLoad === "function" ? o.onLoad(inst) : undefined)
        .then(function () { return o.render || typeof o.onLoad !== "function" ? inst.render() : undefined; })
        .then(function () { return inst; });
    })
    .catch(function (e) {
      console.error("natter: the IBM web chat compatibility loader could not start:", e);
      return null;
    });
}
/* The classic watsonx Assistant web chat loader, served by `natter` as /WatsonAssistantChatEntry.js
 * (and /versions/<any>/WatsonAssistantChatEntry.js, the path IBM's embed code builds). A page
 * written for IBM switches to Natter by pointing that one script URL at its Natter server.
 *
 * Reads window.watsonAssistantChatOptions once, when it runs: `integrationID` picks the bot (the
 * bot whose bot.toml lists it under [ibm] integration_ids), the options IBM and Natter share are
 * mapped, the rest is named in one console.warn. Then `onLoad(instance)` gets the IBM-shaped
 * instance and, as with IBM, the page calls `instance.render()` (without onLoad the widget
 * renders at once).
 */
/* global ibmClaimPage, ibmOrigin, ibmStart, ibmUnknownOptions */
ibmClaimPage("wa");
(function () {
  var o = window.watsonAssistantChatOptions || {};
  ibmUnknownOptions("watsonAssistantChatOptions", o, {
    integrationID: 1, region: 1, serviceInstanceID: 1, subscriptionID: 1, clientVersion: 1, onLoad: 1, debug: 1,
    element: 1, showLauncher: 1, openChatByDefault: 1, disableSessionHistory: 1, pageLinkConfig: 1,
  });
  var options = {};
  if (o.element) options.element = o.element;
  if (o.showLauncher !== undefined) options.showLauncher = o.showLauncher;
  if (o.openChatByDefault !== undefined) options.openOnLoad = o.openChatByDefault;
  if (o.disableSessionHistory) options.persistence = "none";
  ibmStart({
    what: "watsonAssistantChatOptions.integrationID",
    param: "integrationID",
    id: o.integrationID,
    server: ibmOrigin("WatsonAssistantChatEntry.js"),
    options: options,
    onLoad: o.onLoad,
    classic: true,
    links: o.pageLinkConfig,
    session: !o.disableSessionHistory,
  });
})();
})();
