//! Webhook ids: `msg_` and 26 lowercase base32 characters (128 random bits).
//!
//! The server makes one when it queues an event and stores it with the job, so every retry
//! carries the same `webhook-id` and the CRM can drop duplicates.

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

pub fn new_webhook_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the OS random source is available");
    let n = u128::from_be_bytes(bytes);
    let mut id = String::with_capacity(30);
    id.push_str("msg_");
    for i in (0..26).rev() {
        id.push(ALPHABET[((n >> (i * 5)) & 31) as usize] as char);
    }
    id
}

#[cfg(test)]
mod tests {
    #[test]
    fn shape_and_uniqueness() {
        let a = super::new_webhook_id();
        assert_eq!(a.len(), 30);
        assert!(a.starts_with("msg_"));
        assert_ne!(a, super::new_webhook_id());
    }
}
