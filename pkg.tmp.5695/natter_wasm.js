/**
 * One chat widget. Create it with `loadChat(options)`. Clones are handles to the same widget.
 *
 * `destroy()` drops this handle's strong reference, so the widget's memory is freed at once,
 * not when the JS wrapper is garbage-collected.
 */
export class NatterChat {
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
const MAX_SAFARI_DECODE_BYTES = 2146435072;
let numBytesDecoded = 0;
function decodeText(bytes) {
    numBytesDecoded += bytes.length;
    if (numBytesDecoded >= MAX_SAFARI_DECODE_BYTES) {
        cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
        cachedTextDecoder.decode();
        numBytesDecoded = bytes.length;
    }
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

    if (module_or_path === undefined) {
        module_or_path = new URL('natter_wasm_bg.wasm', import.meta.url);
    }
    const imports = __wbg_get_imports();

    if (typeof module_or_path === 'string' || (typeof Request === 'function' && module_or_path instanceof Request) || (typeof URL === 'function' && module_or_path instanceof URL)) {
        module_or_path = fetch(module_or_path);
    }

    const { instance, module } = await __wbg_load(await module_or_path, imports);

    return __wbg_finalize_init(instance, module);
}

export { __wbg_init as default };
