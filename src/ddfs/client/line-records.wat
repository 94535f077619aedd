;; Source of the WebAssembly line encoder; its bytes are in line-records-wasm.ts (how to rebuild: there).
(module
  ;; Shared: lines-in-memory.ts has the CRC of hunks computed by a worker thread (hunk-crc.ts)
  ;; reading the same memory.
  (import "env" "memory" (memory 1 16384 shared))
  (global $records (export "records") (mut i32) (i32.const 0))
  ;; Records [line, null] (MessagePack str, nil) for the lines of [p, end) (end - 1 is '\n'),
  ;; written from o on; returns the records' end, their number in $records. Needs 16 readable
  ;; bytes past end, and the records' end at least 16 bytes before the next line to encode at
  ;; every step (copies and scans go 16 bytes at a time).
  (func (export "encode") (param $p i32) (param $end i32) (param $o i32) (result i32)
    (local $q i32) (local $m i32) (local $nl i32) (local $len i32) (local $k i32) (local $n i32)
    (local.set $n (i32.const 0))
    (block $done
      (loop $line
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ;; find the newline, 16 bytes at a time
        (local.set $q (local.get $p))
        (block $found
          (loop $scan
            (local.set $m (i8x16.bitmask (i8x16.eq (v128.load align=1 (local.get $q)) (i8x16.splat (i32.const 10)))))
            (br_if $found (local.get $m))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (br $scan)))
        (local.set $nl (i32.add (local.get $q) (i32.ctz (local.get $m))))
        (local.set $len (i32.sub (local.get $nl) (local.get $p)))
        ;; str header
        (if (i32.lt_u (local.get $len) (i32.const 32))
          (then
            (i32.store8 (local.get $o) (i32.or (i32.const 0xa0) (local.get $len)))
            (local.set $o (i32.add (local.get $o) (i32.const 1))))
          (else (if (i32.lt_u (local.get $len) (i32.const 256))
            (then
              (i32.store8 (local.get $o) (i32.const 0xd9))
              (i32.store8 offset=1 (local.get $o) (local.get $len))
              (local.set $o (i32.add (local.get $o) (i32.const 2))))
            (else (if (i32.lt_u (local.get $len) (i32.const 65536))
              (then
                (i32.store8 (local.get $o) (i32.const 0xda))
                (i32.store8 offset=1 (local.get $o) (i32.shr_u (local.get $len) (i32.const 8)))
                (i32.store8 offset=2 (local.get $o) (local.get $len))
                (local.set $o (i32.add (local.get $o) (i32.const 3))))
              (else
                (i32.store8 (local.get $o) (i32.const 0xdb))
                (i32.store8 offset=1 (local.get $o) (i32.shr_u (local.get $len) (i32.const 24)))
                (i32.store8 offset=2 (local.get $o) (i32.shr_u (local.get $len) (i32.const 16)))
                (i32.store8 offset=3 (local.get $o) (i32.shr_u (local.get $len) (i32.const 8)))
                (i32.store8 offset=4 (local.get $o) (local.get $len))
                (local.set $o (i32.add (local.get $o) (i32.const 5)))))))))
        ;; copy the line: 16 bytes at a time (o + 16 <= p: no unread byte is overwritten)
        (if (i32.le_u (local.get $len) (i32.const 256))
          (then
            (local.set $k (i32.const 0))
            (block $copied
              (loop $copy
                (br_if $copied (i32.ge_u (local.get $k) (local.get $len)))
                (v128.store align=1 (i32.add (local.get $o) (local.get $k))
                  (v128.load align=1 (i32.add (local.get $p) (local.get $k))))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $copy))))
          (else (memory.copy (local.get $o) (local.get $p) (local.get $len))))
        (local.set $o (i32.add (local.get $o) (local.get $len)))
        (i32.store8 (local.get $o) (i32.const 0xc0))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $p (i32.add (local.get $nl) (i32.const 1)))
        (br $line)))
    (global.set $records (local.get $n))
    (local.get $o)))
