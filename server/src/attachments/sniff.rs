//! The type of a file, found from its first bytes (never from its name or the client's
//! `Content-Type`).
//!
//! Recognized: PNG, JPEG, GIF, WebP, PDF, ZIP and the office documents stored as ZIP
//! (OOXML `.docx`/`.xlsx`/`.pptx`, OpenDocument `.odt`/`.ods`/`.odp`), plain UTF-8 text, and
//! the markup a browser would run or render (HTML, SVG, XML) so it can be refused or served
//! as a download. Text whose first non-blank character is `<` is always markup, never
//! `text/plain`: a page renamed `.txt` or `.png` is caught. Anything else is
//! `application/octet-stream`.

/// How many leading bytes [`sniff`] looks at (enough for the first entries of a ZIP).
pub const SNIFF_LEN: usize = 8 * 1024;

pub const PNG: &str = "image/png";
pub const JPEG: &str = "image/jpeg";
pub const GIF: &str = "image/gif";
pub const WEBP: &str = "image/webp";
pub const PDF: &str = "application/pdf";
pub const TEXT: &str = "text/plain";
pub const ZIP: &str = "application/zip";
pub const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
pub const PPTX: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
pub const ODT: &str = "application/vnd.oasis.opendocument.text";
pub const ODS: &str = "application/vnd.oasis.opendocument.spreadsheet";
pub const ODP: &str = "application/vnd.oasis.opendocument.presentation";
pub const HTML: &str = "text/html";
pub const SVG: &str = "image/svg+xml";
pub const XML: &str = "application/xml";
pub const UNKNOWN: &str = "application/octet-stream";

/// Every type [`sniff`] can answer: what a bot's `[attachments] types` may list.
pub const KNOWN: &[&str] = &[
    PNG, JPEG, GIF, WEBP, PDF, TEXT, ZIP, DOCX, XLSX, PPTX, ODT, ODS, ODP, HTML, SVG, XML, UNKNOWN,
];

/// Raster images: the only types a browser may show inline (everything else downloads).
pub fn is_raster_image(mime: &str) -> bool {
    matches!(mime, PNG | JPEG | GIF | WEBP)
}

/// The type of a file whose first bytes are `head` (up to [`SNIFF_LEN`]; `complete` when
/// `head` is the whole file).
pub fn sniff(head: &[u8], complete: bool) -> &'static str {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        PNG
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        JPEG
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        GIF
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        WEBP
    } else if head.starts_with(b"%PDF-") {
        PDF
    } else if head.starts_with(b"PK\x03\x04") {
        zip_kind(head)
    } else {
        text_kind(head, complete)
    }
}

/// OpenDocument stores its type uncompressed as the first entry `mimetype`; OOXML names its
/// parts `word/`, `xl/`, `ppt/` (looked for in the local headers within `head`).
fn zip_kind(head: &[u8]) -> &'static str {
    let mut at = 0;
    while at + 30 <= head.len() && head[at..].starts_with(b"PK\x03\x04") {
        let le16 = |i: usize| u16::from_le_bytes([head[at + i], head[at + i + 1]]) as usize;
        let le32 = |i: usize| {
            u32::from_le_bytes([
                head[at + i],
                head[at + i + 1],
                head[at + i + 2],
                head[at + i + 3],
            ]) as usize
        };
        let (compressed, name_len, extra_len) = (le32(18), le16(26), le16(28));
        let name_end = at + 30 + name_len;
        if name_end > head.len() {
            break;
        }
        let name = &head[at + 30..name_end];
        if name == b"mimetype" {
            let body = &head[(name_end + extra_len).min(head.len())..];
            let body = &body[..compressed.min(body.len())];
            return match body {
                b"application/vnd.oasis.opendocument.text" => ODT,
                b"application/vnd.oasis.opendocument.spreadsheet" => ODS,
                b"application/vnd.oasis.opendocument.presentation" => ODP,
                _ => ZIP,
            };
        }
        if name.starts_with(b"word/") {
            return DOCX;
        }
        if name.starts_with(b"xl/") {
            return XLSX;
        }
        if name.starts_with(b"ppt/") {
            return PPTX;
        }
        // Entries written with a data descriptor don't say their size here: stop looking.
        if le16(6) & 0x8 != 0 {
            break;
        }
        at = name_end + extra_len + compressed;
    }
    ZIP
}

fn text_kind(head: &[u8], complete: bool) -> &'static str {
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        // A multi-byte character cut by the end of the sniffed prefix is still text.
        Err(e) if !complete && e.error_len().is_none() && body.len() - e.valid_up_to() < 4 => {
            std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return UNKNOWN,
    };
    if text.is_empty()
        || text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
    {
        return UNKNOWN;
    }
    let start = text.trim_start().to_ascii_lowercase();
    if !start.starts_with('<') {
        return TEXT;
    }
    let head = &start[..start.len().min(1024)];
    if head.contains("<svg") {
        SVG
    } else if head.starts_with("<?xml") && !head.contains("<html") {
        XML
    } else {
        HTML
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_entry(name: &str, body: &[u8]) -> Vec<u8> {
        let mut v = b"PK\x03\x04".to_vec();
        v.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(&(name.len() as u16).to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(name.as_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", false), PNG);
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16], false), JPEG);
        assert_eq!(sniff(b"GIF89a\x01\x00", false), GIF);
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 ", false), WEBP);
        assert_eq!(sniff(b"%PDF-1.7\n", false), PDF);
    }

    #[test]
    fn zip_documents() {
        let mut docx = zip_entry("[Content_Types].xml", b"<Types/>");
        docx.extend(zip_entry("word/document.xml", b"<w:document/>"));
        assert_eq!(sniff(&docx, true), DOCX);
        let mut xlsx = zip_entry("[Content_Types].xml", b"<Types/>");
        xlsx.extend(zip_entry("xl/workbook.xml", b"<workbook/>"));
        assert_eq!(sniff(&xlsx, true), XLSX);
        let odt = zip_entry("mimetype", b"application/vnd.oasis.opendocument.text");
        assert_eq!(sniff(&odt, true), ODT);
        assert_eq!(sniff(&zip_entry("a.txt", b"hello"), true), ZIP);
    }

    #[test]
    fn text_and_markup() {
        assert_eq!(sniff("héllo\nworld".as_bytes(), true), TEXT);
        assert_eq!(sniff(b"\xEF\xBB\xBFplain", true), TEXT);
        assert_eq!(sniff(b"  <!DOCTYPE html><script>x</script>", true), HTML);
        assert_eq!(sniff(b"<p>hi</p>", true), HTML);
        assert_eq!(
            sniff(
                b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
                true
            ),
            SVG
        );
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><note/>", true), XML);
        assert_eq!(sniff(b"bin\0ary", true), UNKNOWN);
        assert_eq!(sniff(b"\xff\xfe\x00", true), UNKNOWN);
        // "é" cut after its first byte by the end of the prefix.
        assert_eq!(sniff(b"caf\xc3", false), TEXT);
        assert_eq!(sniff(b"caf\xc3", true), UNKNOWN);
    }
}
