//! `hugepages::retain_freed_memory`: a freed evaluation-sized buffer is handed out again instead
//! of being unmapped and faulted in anew (its own test binary: the setting is process-wide).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_freed_large_buffer_is_reused() {
    kann_models::hugepages::retain_freed_memory();
    // 18 MiB, the decoder's buffer of one ECG scoring batch: above glibc's default mmap
    // threshold, below the pinned 32 MiB one.
    let len = 18 << 20;
    let first = vec![1u8; len];
    let addr = first.as_ptr() as usize;
    drop(first);
    let second = vec![2u8; len];
    assert_eq!(
        second.as_ptr() as usize,
        addr,
        "the second 18 MiB buffer got new memory: freed blocks are not being reused"
    );
    assert!(second.iter().all(|&b| b == 2));
}
