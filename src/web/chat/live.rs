//! Streamed replies in the DOM: each `message.delta`'s text (as `pre:stream:delta` handlers
//! left it) waits in its reply ([`Replies`], the pure core's) and is appended once per
//! animation frame.
//!
//! Invariants: one `requestAnimationFrame` is pending at most per widget; streamed text goes
//! into the trailing text node of the trailing block ([`split_blocks`] caps block size so
//! layout per frame stays flat); a reply's bubble stays hidden until its first text.

use super::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = requestAnimationFrame)]
    fn request_animation_frame(f: &JsValue) -> i32;
}

thread_local! {
    /// One forever rAF callback routed by widget id (a destroyed widget finds nothing).
    static FLUSH: Function = Closure::<dyn FnMut(u32)>::new(|id: u32| {
        if let Some(w) = find(id) {
            flush(&w);
        }
    })
    .into_js_value()
    .unchecked_into();
}

pub(super) fn ensure_live(w: &Widget, mid: String, run: String) {
    let mut st = w.st.borrow_mut();
    if !st.chat.live.has(&mid) {
        live_bubble(&mut st, mid, run);
    }
}

/// A hidden bubble for a reply whose deltas are coming (shown at its first text).
pub(super) fn live_bubble(st: &mut crate::web::State, id: String, run: String) {
    if let Some(b) = st.dom.as_ref().and_then(|d| bubble(&mut st.chat, d, false)) {
        let _ = b.set_attribute("hidden", "");
        // a fixed width while streaming: no intrinsic sizing over the whole reply per frame
        let _ = b.set_attribute("class", "bot live");
        let l = Live {
            bubble: b,
            block: None,
            block_len: 0,
        };
        st.chat.live.add(id, run, l);
    }
}

/// `pre:stream:delta` handlers are done: queue the text they left for the next frame. A
/// string `event.delta.text` replaces the chunk's text; otherwise the text items of
/// `event.delta.content` are rendered (`[]` suppresses the chunk).
pub(crate) fn delta_done(w: &Rc<Widget>, event: &JsValue) {
    let mid = get(event, "messageId").as_string().unwrap_or_default();
    let run = get(event, "runId").as_string().unwrap_or_default();
    let delta = get(event, "delta");
    let mut texts = Vec::new();
    let rewritten = get(&delta, "text").as_string();
    for item in items(&get(&delta, "content")) {
        let kind = get(&item, "response_type").as_string();
        let text = match kind.as_deref() {
            None | Some("text") => get(&item, "text").as_string(),
            _ => None,
        };
        texts.push((text, item));
    }
    let schedule = {
        let mut st = w.st.borrow_mut();
        let st = &mut *st;
        if let Some(s) = st.streams.iter().find(|s| s.id == mid) {
            for (_, item) in &texts {
                s.message_content.push(item);
            }
        }
        if !st.chat.live.has(&mid) {
            live_bubble(st, mid.clone(), run);
        }
        let Some(pending) = st.chat.live.text(&mid) else {
            return;
        };
        match rewritten {
            Some(t) => pending.push_str(&t),
            None => {
                for (t, _) in texts {
                    if let Some(t) = t {
                        pending.push_str(&t);
                    }
                }
            }
        }
        !std::mem::replace(&mut st.chat.raf, true)
    };
    if schedule {
        FLUSH.with(|f| request_animation_frame(&f.bind1(&JsValue::NULL, &w.id.into())));
    }
}

/// Appends every pending streamed text (one animation frame's worth).
pub(crate) fn flush(w: &Rc<Widget>) {
    let mut any = false;
    {
        let mut st = w.st.borrow_mut();
        st.chat.raf = false;
        for r in st.chat.live.iter_mut() {
            if r.pending.is_empty() {
                continue;
            }
            let l = &mut r.extra;
            let Some(doc) = l.bubble.owner_document() else {
                continue;
            };
            let text = std::mem::take(&mut r.pending);
            for (new, piece) in split_blocks(l.block_len, &text) {
                if new || l.block.is_none() {
                    let Ok(p) = doc.create_element("div") else {
                        continue;
                    };
                    let t = doc.create_text_node("");
                    let _ = p.append_child(&t);
                    let _ = l.bubble.append_child(&p);
                    l.block = Some(t);
                    l.block_len = 0;
                }
                if let Some(t) = &l.block {
                    let _ = t.append_data(piece);
                    l.block_len += piece.len();
                }
            }
            let _ = l.bubble.remove_attribute("hidden");
            any = true;
        }
    }
    if any {
        scroll(w);
    }
}
