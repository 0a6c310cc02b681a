use std::io::{Read, Write};
#[test]
fn smoke() {
    for mk in [gopipe::pipe as fn() -> _, gopipe::__reference_pipe] {
        let (mut r, mut w) = mk();
        let t = std::thread::spawn(move || {
            let data: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
            for c in data.chunks(1000) {
                w.write_all(c).unwrap();
            }
            w.write(&[]).unwrap();
        });
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        t.join().unwrap();
        assert_eq!(out.len(), 1_000_000);
        assert!(out.iter().enumerate().all(|(i, &b)| b == i as u8));
    }
}
