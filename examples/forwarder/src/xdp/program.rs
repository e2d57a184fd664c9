//! The XDP programs, written as eBPF instructions (no compiler, no ELF, no libbpf).
//!
//! [`redirect_program`] decides, per frame, between the forwarder and the kernel:
//!
//! ```text
//!     if frame shorter than 14 bytes                      -> XDP_PASS
//!     if destination MAC is multicast/broadcast           -> XDP_PASS   (ARP requests, NS, RA...)
//!     if EtherType is IPv4                                -> redirect
//!     if EtherType is not IPv6                            -> XDP_PASS   (ARP replies, LLDP...)
//!     if shorter than 55 bytes                            -> XDP_PASS
//!     if next header is ICMPv6 and type in 133..=137      -> XDP_PASS   (unicast NDP: NA, NS)
//!     redirect: bpf_redirect_map(xskmap, rx_queue_index, XDP_PASS)
//! ```
//!
//! so the kernel keeps resolving neighbors (ARP and NDP never reach the forwarder) and
//! the forwarder gets every unicast IP frame. `bpf_redirect_map`'s last argument is the
//! verdict when the queue has no socket in the map: the frame then goes to the kernel.
//! [`drop_program`] (`XDP_DROP` for everything) is the benchmark's packet sink.

/// One instruction: opcode, registers, offset, immediate (`struct bpf_insn`).
#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    dst: u8,
    src: u8,
    off: i16,
    imm: i32,
}

impl Insn {
    fn encode(self) -> u64 {
        u64::from(self.code)
            | u64::from(self.dst & 0xf) << 8
            | u64::from(self.src & 0xf) << 12
            | u64::from(self.off as u16) << 16
            | u64::from(self.imm as u32) << 32
    }
}

const XDP_DROP: i32 = 1;
const XDP_PASS: i32 = 2;
const BPF_FUNC_REDIRECT_MAP: i32 = 51;
const BPF_PSEUDO_MAP_FD: u8 = 1;

// Registers.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

// Opcodes (class | size/op | source), from linux/bpf_common.h and linux/bpf.h.
const LDX_W: u8 = 0x61;
const LDX_H: u8 = 0x69;
const LDX_B: u8 = 0x71;
const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const ADD64_K: u8 = 0x07;
const AND64_K: u8 = 0x57;
const JGT_X: u8 = 0x2d;
const JEQ_K: u8 = 0x15;
const JNE_K: u8 = 0x55;
const JGT_K: u8 = 0x25;
const JLT_K: u8 = 0xa5;
const LD_DW_IMM: u8 = 0x18;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;

/// `struct xdp_md` offsets.
const MD_DATA: i16 = 0;
const MD_DATA_END: i16 = 4;
const MD_RX_QUEUE: i16 = 16;

/// Jump targets, resolved when the program is assembled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Pass,
    Redirect,
}

enum Item {
    Op(Insn),
    Jump(Insn, Label),
    At(Label),
}

fn op(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Item {
    Item::Op(Insn {
        code,
        dst,
        src,
        off,
        imm,
    })
}

fn jump(code: u8, dst: u8, src: u8, imm: i32, to: Label) -> Item {
    Item::Jump(
        Insn {
            code,
            dst,
            src,
            off: 0,
            imm,
        },
        to,
    )
}

/// Resolves the labels: a jump's offset counts instructions after the jump.
fn assemble(items: &[Item]) -> Vec<u64> {
    let mut at = Vec::new();
    let mut pc = 0i16;
    for it in items {
        match it {
            Item::At(l) => at.push((*l, pc)),
            Item::Op(i) => pc += if i.code == LD_DW_IMM { 2 } else { 1 },
            Item::Jump(..) => pc += 1,
        }
    }
    let target = |l: Label| at.iter().find(|(x, _)| *x == l).expect("label placed").1;
    let mut out = Vec::new();
    for it in items {
        match it {
            Item::At(_) => {}
            Item::Op(i) if i.code == LD_DW_IMM => {
                // A 64-bit immediate spans two instructions; the second holds the high half.
                out.push(i.encode());
                out.push(0);
            }
            Item::Op(i) => out.push(i.encode()),
            Item::Jump(i, l) => {
                let here = out.len() as i16;
                out.push(
                    Insn {
                        off: target(*l) - here - 1,
                        ..*i
                    }
                    .encode(),
                );
            }
        }
    }
    out
}

/// The frame classifier above, redirecting into the XSKMAP whose descriptor is `xskmap_fd`.
pub fn redirect_program(xskmap_fd: i32) -> Vec<u64> {
    let ipv4 = i32::from(u16::from_ne_bytes(0x0800u16.to_be_bytes()));
    let ipv6 = i32::from(u16::from_ne_bytes(0x86ddu16.to_be_bytes()));
    use Label::*;
    assemble(&[
        op(LDX_W, R2, R1, MD_DATA, 0),
        op(LDX_W, R3, R1, MD_DATA_END, 0),
        op(MOV64_X, R4, R2, 0, 0),
        op(ADD64_K, R4, 0, 0, 14),
        jump(JGT_X, R4, R3, 0, Pass),
        // The I/G bit of the destination MAC: group (multicast, broadcast) addresses.
        op(LDX_B, R5, R2, 0, 0),
        op(AND64_K, R5, 0, 0, 1),
        jump(JNE_K, R5, 0, 0, Pass),
        op(LDX_H, R5, R2, 12, 0),
        jump(JEQ_K, R5, 0, ipv4, Redirect),
        jump(JNE_K, R5, 0, ipv6, Pass),
        op(MOV64_X, R4, R2, 0, 0),
        op(ADD64_K, R4, 0, 0, 55),
        jump(JGT_X, R4, R3, 0, Pass),
        op(LDX_B, R5, R2, 14 + 6, 0),
        jump(JNE_K, R5, 0, 58, Redirect),
        op(LDX_B, R5, R2, 14 + 40, 0),
        jump(JLT_K, R5, 0, 133, Redirect),
        jump(JGT_K, R5, 0, 137, Redirect),
        Item::At(Pass),
        op(MOV64_K, R0, 0, 0, XDP_PASS),
        op(EXIT, 0, 0, 0, 0),
        Item::At(Redirect),
        op(LDX_W, R2, R1, MD_RX_QUEUE, 0),
        op(LD_DW_IMM, R1, BPF_PSEUDO_MAP_FD, 0, xskmap_fd),
        op(MOV64_K, R3, 0, 0, XDP_PASS),
        op(CALL, 0, 0, 0, BPF_FUNC_REDIRECT_MAP),
        op(EXIT, 0, 0, 0, 0),
    ])
}

/// `return XDP_DROP;`
pub fn drop_program() -> Vec<u64> {
    assemble(&[op(MOV64_K, R0, 0, 0, XDP_DROP), op(EXIT, 0, 0, 0, 0)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_their_labels() {
        let p = redirect_program(7);
        assert_eq!(p.len(), 27, "27 instructions, the map load counting two");
        let field = |i: usize| (p[i] & 0xff) as u8;
        let off = |i: usize| (p[i] >> 16) as u16 as i16;
        // Instruction 4 (frame shorter than 14) jumps to PASS at 19.
        assert_eq!(field(4), JGT_X);
        assert_eq!(4 + 1 + off(4), 19);
        assert_eq!(field(19), MOV64_K);
        assert_eq!((p[19] >> 32) as i32, XDP_PASS);
        // Instruction 9 (IPv4) jumps to REDIRECT at 21.
        assert_eq!(9 + 1 + off(9), 21);
        assert_eq!(field(21), LDX_W);
        // The map's descriptor rides in the 64-bit load, marked as a map descriptor.
        assert_eq!(field(22), LD_DW_IMM);
        assert_eq!((p[22] >> 12) & 0xf, u64::from(BPF_PSEUDO_MAP_FD));
        assert_eq!((p[22] >> 32) as i32, 7);
        assert_eq!(field(26), EXIT);
    }
}
