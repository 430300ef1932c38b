/* flash_mesh.p4 - the Flash-Mesh data plane (P4_16, v1model).
 *
 * Target: BMv2 simple_switch_grpc started with --priority-queues 8 and --cpu-port 255, or
 * flash-switch with the same options. Compiled for BMv2 with
 *     p4c-bm2-ss --p4v 16 --p4runtime-files flash_mesh.p4info.txtpb -o flash_mesh.json flash_mesh.p4
 *
 * What it does, in pipeline order (DESIGN.md, "The data plane"):
 *   1. Parse Ethernet / IPv4 / UDP / FMH (the 32-byte Flash-Mesh header, when either UDP port is
 *      47474), and the packet_out controller header on frames injected from the CPU port.
 *      A datagram on port 47474 too short to hold an FMH (UDP length below 40, or the frame
 *      ends early) is not parsed as FMH; it is dropped and counted as reason 8 (short FMH).
 *   2. Epoch window from the default action of the keyless table epoch_window:
 *      drop stale (epoch + ttl < current) and future (epoch > current + 1) messages, and
 *      retries above the allowance. current_epoch 0 means "not configured yet": the window and
 *      the duplicate filter are then off (the program's initial default action).
 *   3. Blocked senders (exact table on sender).
 *   4. Duplicate filter (Bloom filter with epoch-stamped cells) for the message types that
 *      dedup_types names.
 *   5. Classification into the three traffic classes; sets standard_metadata.priority (the
 *      table is applied first, before the checks, so that every path has a class).
 *   6. Probes: a request (flags bit 0 clear) is reflected out of its ingress port as a reply; a
 *      reply is punted to the controller with its ingress port.
 *   7. IPv4 longest-prefix forwarding to a next hop with a primary and a backup port; the
 *      port_down table switches to the backup. IPv4 TTL and FMH hop_limit are decremented
 *      (expiry drops, counted), the IPv4 checksum is recomputed and the UDP checksum is
 *      adjusted incrementally for every FMH byte the switch changes.
 *   8. Counters: drops per reason (ingress), packets/bytes per (egress port, class) and a
 *      queue-depth histogram per (egress port, class) (egress).
 *
 * The control plane only writes table entries and default actions and reads counters (BMv2's
 * P4Runtime server does not serve registers). The one register, the Bloom filter, is state the
 * data plane keeps for itself. Names the controller relies on are listed in
 * flash_mesh_interface.md beside the controller; keep them in step.
 */
#include <core.p4>
#include <v1model.p4>

/* ------------------------------------------------------------------------------------------ */
/* Constants (the FMH numbers must agree with flashmesh-core's wire module; a test checks).   */
/* ------------------------------------------------------------------------------------------ */

const bit<9>  CPU_PORT        = 255;
const bit<16> ETHERTYPE_IPV4  = 0x0800;
const bit<8>  IPPROTO_UDP     = 17;
const bit<16> BCB_UDP_PORT    = 47474;
/* UDP header (8 bytes) + FMH (32 bytes): the smallest UDP length that carries an FMH. */
const bit<16> FMH_MIN_UDP_LEN = 40;

const bit<8> MSG_ORDER        = 1;
const bit<8> MSG_VOTE         = 2;
const bit<8> MSG_CERTIFICATE  = 3;
const bit<8> MSG_RECEIPT      = 4;
const bit<8> MSG_QUERY        = 5;
const bit<8> MSG_QUERY_REPLY  = 6;
const bit<8> MSG_HANDOFF      = 7;
const bit<8> MSG_PAYMENT_DATA = 8;
const bit<8> MSG_PROBE        = 9;
const bit<8> MSG_ERROR        = 10;
const bit<8> MSG_HANDOFF_CERTIFICATE    = 11;
const bit<8> MSG_WITHDRAWAL             = 12;
const bit<8> MSG_WITHDRAWAL_CERTIFICATE = 13;
const bit<8> MSG_DEPOSIT                = 14;
const bit<8> MSG_SETTLEMENT             = 15;
const bit<8> MSG_HEARTBEAT              = 16;
const bit<8> MSG_SYNC                   = 17;

/* FMH flags bit 0: this PROBE is a reply. */
const bit<8> FLAG_PROBE_REPLY = 0x01;

/* Traffic classes (meta.class_id) and the default best-effort class. */
const bit<2> CLASS_0_FASTPAY_BCB  = 0;
const bit<2> CLASS_1_PAYMENT_DATA = 1;
const bit<2> CLASS_2_BEST_EFFORT  = 2;

/* Packet-in reasons. */
const bit<7> PUNT_PROBE_REPLY = 1;
const bit<7> PUNT_OTHER       = 2;

/* Drop reasons: the index into FmIngress.drops. */
const bit<32> DROP_STALE         = 1;
const bit<32> DROP_FUTURE        = 2;
const bit<32> DROP_RETRY         = 3;
const bit<32> DROP_BLOCKED       = 4;
const bit<32> DROP_DUPLICATE     = 5;
const bit<32> DROP_NO_ROUTE      = 6;
const bit<32> DROP_IPV4_TTL      = 7;
const bit<32> DROP_SHORT_FMH     = 8;
const bit<32> DROP_HOP_LIMIT     = 9;
const bit<32> DROP_NOT_IPV4      = 10;
#define DROP_REASONS 16

/* Per-(port, class) counters cover ports 0..63 with 4 class slots each. */
#define COUNTED_PORTS 64
#define TX_CLASS_SLOTS 256
#define QDEPTH_BUCKETS 8
#define QDEPTH_SLOTS 2048

/* ------------------------------------------------------------------------------------------ */
/* Duplicate filter sizing.                                                                   */
/*                                                                                            */
/* A Bloom filter over (sender, nonce, msg_type, retry, IPv4 destination) split into BLOOM_K  */
/* partitions of BLOOM_PART_SIZE cells. The destination is part of the key because a wallet   */
/* sends the same order (same sender, nonce, type, retry) to every authority of its committee */
/* through the same first switch: without it, all copies but the first would be dropped as    */
/* duplicates and no committee larger than one could settle. Each copy counts in the load.    */
/* Hash i picks one cell in partition i. A cell holds the epoch in which it was last set     */
/* (0 = never). A message is "seen" when its BLOOM_K cells all hold                           */
/* current_epoch or current_epoch - 1; inserting stamps them with current_epoch, so entries   */
/* age out after two epochs without any clearing.                                             */
/*                                                                                            */
/* Design load: n = 4096 filtered messages (orders + certificates) per epoch per switch.      */
/* The window keeps two epochs live, so up to 2n = 8192 entries count at once.                */
/* Cells per partition m_p = 32768, k = 8 (262144 cells of 32 bits = 1 MiB in total).          */
/* False-positive rate at 2n live entries:                                                    */
/*     (1 - exp(-2n / m_p))^k = (1 - exp(-0.25))^8 = 0.2212^8 = 5.7e-6                         */
/* which meets the 1e-4 goal with margin; the filter still meets 1e-4 up to about 1.5 times   */
/* the design load ((1 - exp(-x/32768))^8 = 1e-4 at x = 12.4k live entries).                   */
/* A false positive costs the sender one retransmission (retry changes the key).              */
/*                                                                                            */
/* The eight indices come from four CRC-32 hashes of the key with the fields in four          */
/* different orders (four different linear maps of the key bits); each 32-bit hash gives two  */
/* 15-bit indices (bits 0..14 and 16..30). BLOOM_K is fixed at 8 by the eight read/write      */
/* stages in FmIngress; BLOOM_PART_SIZE must be a power of two not above 65536.               */
/* ------------------------------------------------------------------------------------------ */
#define BLOOM_K 8
#define BLOOM_PART_SIZE 32768
#define BLOOM_PART_MASK 0x7FFF
#define BLOOM_CELLS 262144

/* ------------------------------------------------------------------------------------------ */
/* Headers                                                                                    */
/* ------------------------------------------------------------------------------------------ */

@controller_header("packet_in")
header packet_in_t {
    bit<9> ingress_port;
    bit<7> reason;
}

@controller_header("packet_out")
header packet_out_t {
    bit<9> egress_port;
    bit<7> flags;
}

header ethernet_t {
    bit<48> dstAddr;
    bit<48> srcAddr;
    bit<16> etherType;
}

header ipv4_t {
    bit<4>  version;
    bit<4>  ihl;
    bit<8>  diffserv;
    bit<16> totalLen;
    bit<16> identification;
    bit<3>  flags;
    bit<13> fragOffset;
    bit<8>  ttl;
    bit<8>  protocol;
    bit<16> hdrChecksum;
    bit<32> srcAddr;
    bit<32> dstAddr;
}

header udp_t {
    bit<16> srcPort;
    bit<16> dstPort;
    bit<16> length;
    bit<16> checksum;
}

/* The Flash-Mesh header: the first 32 bytes of every BCB datagram, big-endian. */
header fmh_t {
    bit<8>  version;
    bit<8>  msg_type;
    bit<8>  retry;
    bit<8>  flags;
    bit<32> epoch;
    bit<64> sender;
    bit<64> nonce;
    bit<8>  ttl;
    bit<8>  hop_limit;
    bit<16> body_len;
    bit<32> reserved;
}

struct headers_t {
    packet_out_t packet_out;
    packet_in_t  packet_in;
    ethernet_t   ethernet;
    ipv4_t       ipv4;
    udp_t        udp;
    fmh_t        fmh;
}

struct meta_t {
    bit<1>  bcb_port;         /* a UDP port is 47474 (set by the parser) */
    bit<1>  fmh_valid;        /* hdr.fmh is valid (a classify key) */
    bit<32> current_epoch;    /* from epoch_window */
    bit<8>  retry_allowance;  /* from epoch_window */
    bit<1>  blocked;          /* set by block_sender */
    bit<1>  dedup;            /* set by dedup_enable */
    bit<2>  class_id;         /* set by set_class */
    bit<1>  routed;           /* set by set_next_hop */
    bit<9>  out_port;         /* next hop: primary port, then the port actually used */
    bit<48> out_dmac;
    bit<9>  backup_port;
    bit<48> backup_dmac;
    bit<1>  port_is_down;     /* set by mark_down */
    bit<32> h0;               /* Bloom filter hashes */
    bit<32> h1;
    bit<32> h2;
    bit<32> h3;
    bit<16> ck_sum;           /* incremental checksum update: in/out */
    bit<16> ck_old;           /* the 16-bit word before the change */
    bit<16> ck_new;           /* the 16-bit word after the change */
}

/* ------------------------------------------------------------------------------------------ */
/* Parser                                                                                     */
/* ------------------------------------------------------------------------------------------ */

parser FmParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        meta.bcb_port = 0;
        transition select(sm.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }
    state parse_packet_out {
        pkt.extract(hdr.packet_out);
        transition parse_ethernet;
    }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.etherType) {
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        /* Only an unfragmented (or first-fragment-free) datagram without options has its UDP
         * header right after the 20 IPv4 bytes. */
        transition select(hdr.ipv4.ihl, hdr.ipv4.fragOffset, hdr.ipv4.protocol) {
            (4w5, 13w0, IPPROTO_UDP): parse_udp;
            default: accept;
        }
    }
    state parse_udp {
        pkt.extract(hdr.udp);
        transition select(hdr.udp.dstPort, hdr.udp.srcPort) {
            (BCB_UDP_PORT, _): check_fmh_len;
            (_, BCB_UDP_PORT): check_fmh_len;
            default: accept;
        }
    }
    state check_fmh_len {
        meta.bcb_port = 1;
        /* A datagram whose UDP length leaves no room for the 32-byte FMH is not parsed as one.
         * A frame that ends before the FMH does makes the extract below fail, with the same
         * result: hdr.fmh stays invalid and ingress counts a short FMH. */
        transition select(hdr.udp.length) {
            16w0 .. 16w39: accept;
            default: parse_fmh;
        }
    }
    state parse_fmh {
        pkt.extract(hdr.fmh);
        transition accept;
    }
}

control FmVerifyChecksum(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

/* ------------------------------------------------------------------------------------------ */
/* Ingress                                                                                    */
/* ------------------------------------------------------------------------------------------ */

control FmIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    counter(DROP_REASONS, CounterType.packets_and_bytes) drops;
    register<bit<32>>(BLOOM_CELLS) bloom;

    /* Drop this packet and count it under `reason`. */
    action drop_for(bit<32> reason) {
        drops.count(reason);
        mark_to_drop(sm);
    }

    /* RFC 1624 eqn. 3: the checksum meta.ck_sum after the 16-bit word meta.ck_old of the
     * covered data became meta.ck_new: HC' = ~(~HC + ~m + m'), in one's complement. */
    action checksum_adjust() {
        bit<32> s = (bit<32>) (~meta.ck_sum) + (bit<32>) (~meta.ck_old) + (bit<32>) meta.ck_new;
        s = (s & 32w0xFFFF) + (s >> 16);
        s = (s & 32w0xFFFF) + (s >> 16);
        meta.ck_sum = ~(s[15:0]);
    }

    /* --- epoch window ------------------------------------------------------------------- */
    action set_epoch(bit<32> current_epoch, bit<8> retry_allowance) {
        meta.current_epoch = current_epoch;
        meta.retry_allowance = retry_allowance;
    }
    table epoch_window {
        actions = { set_epoch; }
        default_action = set_epoch(0, 255);
        size = 1;
    }

    /* --- blocked senders ---------------------------------------------------------------- */
    action block_sender() {
        meta.blocked = 1;
    }
    table blocked_senders {
        key = { hdr.fmh.sender: exact; }
        actions = { block_sender; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    /* --- duplicate filter scope --------------------------------------------------------- */
    action dedup_enable() {
        meta.dedup = 1;
    }
    table dedup_types {
        key = { hdr.fmh.msg_type: exact; }
        actions = { dedup_enable; NoAction; }
        default_action = NoAction();
        size = 256;
    }

    /* --- classification ----------------------------------------------------------------- */
    action set_class(bit<2> class_id, bit<3> prio) {
        meta.class_id = class_id;
        sm.priority = prio;
    }
    table classify {
        key = {
            meta.fmh_valid: exact;
            hdr.fmh.msg_type: ternary;
        }
        actions = { set_class; }
        default_action = set_class(2, 0);
        size = 256;
    }

    /* --- forwarding --------------------------------------------------------------------- */
    action set_next_hop(bit<9> port, bit<48> dmac, bit<9> backup_port, bit<48> backup_dmac,
                        bit<48> smac) {
        meta.routed = 1;
        meta.out_port = port;
        meta.out_dmac = dmac;
        meta.backup_port = backup_port;
        meta.backup_dmac = backup_dmac;
        hdr.ethernet.srcAddr = smac;
    }
    action no_route() {
        meta.routed = 0;
    }
    table ipv4_lpm {
        key = { hdr.ipv4.dstAddr: lpm; }
        actions = { set_next_hop; no_route; }
        default_action = no_route();
        size = 4096;
    }

    action mark_down() {
        meta.port_is_down = 1;
    }
    table port_down {
        key = { meta.out_port: exact; }
        actions = { mark_down; NoAction; }
        default_action = NoAction();
        size = 512;
    }

    apply {
        meta.fmh_valid = 0;
        meta.blocked = 0;
        meta.dedup = 0;
        meta.routed = 0;
        meta.port_is_down = 0;
        meta.class_id = CLASS_2_BEST_EFFORT;
        sm.priority = 0;
        if (hdr.fmh.isValid()) {
            meta.fmh_valid = 1;
        }

        /* 5. classification (non-FMH traffic matches no entry: best effort). Applied once, up
         * front, so every path (packet-outs included) has a class; p4c's BMv2 back end wants
         * each table applied at one place only. */
        classify.apply();

        /* Packet-out: leaves unchanged from the port its header names. Only its class (queue
         * and counters) comes from the pipeline; nothing else looks at it. */
        if (hdr.packet_out.isValid()) {
            sm.egress_spec = hdr.packet_out.egress_port;
            hdr.packet_out.setInvalid();
            return;
        }

        if (meta.bcb_port == 1 && !hdr.fmh.isValid()) {
            drop_for(DROP_SHORT_FMH);
            return;
        }

        if (hdr.fmh.isValid()) {
            /* 2. epoch window and retry allowance */
            epoch_window.apply();
            if (meta.current_epoch != 0) {
                if ((bit<40>) hdr.fmh.epoch + (bit<40>) hdr.fmh.ttl < (bit<40>) meta.current_epoch) {
                    drop_for(DROP_STALE);
                    return;
                }
                if ((bit<40>) hdr.fmh.epoch > (bit<40>) meta.current_epoch + 40w1) {
                    drop_for(DROP_FUTURE);
                    return;
                }
            }
            if (hdr.fmh.retry > meta.retry_allowance) {
                drop_for(DROP_RETRY);
                return;
            }

            /* 3. blocked senders */
            blocked_senders.apply();
            if (meta.blocked == 1) {
                drop_for(DROP_BLOCKED);
                return;
            }

            /* 4. duplicate filter */
            dedup_types.apply();
            if (meta.dedup == 1 && meta.current_epoch != 0) {
                bit<32> cur = meta.current_epoch;
                bit<32> prev = meta.current_epoch - 1;
                hash(meta.h0, HashAlgorithm.crc32, 32w0,
                     { hdr.fmh.sender, hdr.fmh.nonce, hdr.fmh.msg_type, hdr.fmh.retry,
                       hdr.ipv4.dstAddr },
                     33w0x100000000);
                hash(meta.h1, HashAlgorithm.crc32, 32w0,
                     { hdr.fmh.nonce, hdr.ipv4.dstAddr, hdr.fmh.retry, hdr.fmh.msg_type,
                       hdr.fmh.sender },
                     33w0x100000000);
                hash(meta.h2, HashAlgorithm.crc32, 32w0,
                     { hdr.ipv4.dstAddr, hdr.fmh.retry, hdr.fmh.sender, hdr.fmh.msg_type,
                       hdr.fmh.nonce },
                     33w0x100000000);
                hash(meta.h3, HashAlgorithm.crc32, 32w0,
                     { hdr.fmh.msg_type, hdr.fmh.nonce, hdr.fmh.sender, hdr.ipv4.dstAddr,
                       hdr.fmh.retry },
                     33w0x100000000);
                bit<32> i0 = meta.h0 & BLOOM_PART_MASK;
                bit<32> i1 = BLOOM_PART_SIZE + ((meta.h0 >> 16) & BLOOM_PART_MASK);
                bit<32> i2 = 2 * BLOOM_PART_SIZE + (meta.h1 & BLOOM_PART_MASK);
                bit<32> i3 = 3 * BLOOM_PART_SIZE + ((meta.h1 >> 16) & BLOOM_PART_MASK);
                bit<32> i4 = 4 * BLOOM_PART_SIZE + (meta.h2 & BLOOM_PART_MASK);
                bit<32> i5 = 5 * BLOOM_PART_SIZE + ((meta.h2 >> 16) & BLOOM_PART_MASK);
                bit<32> i6 = 6 * BLOOM_PART_SIZE + (meta.h3 & BLOOM_PART_MASK);
                bit<32> i7 = 7 * BLOOM_PART_SIZE + ((meta.h3 >> 16) & BLOOM_PART_MASK);
                bit<32> c0;
                bit<32> c1;
                bit<32> c2;
                bit<32> c3;
                bit<32> c4;
                bit<32> c5;
                bit<32> c6;
                bit<32> c7;
                bloom.read(c0, i0);
                bloom.read(c1, i1);
                bloom.read(c2, i2);
                bloom.read(c3, i3);
                bloom.read(c4, i4);
                bloom.read(c5, i5);
                bloom.read(c6, i6);
                bloom.read(c7, i7);
                /* A cell counts when it was stamped in the current or the previous epoch
                 * (0 is "never set", which matters when current_epoch is 1). */
                bit<1> seen = 1;
                if (!(c0 == cur || (c0 != 0 && c0 == prev))) { seen = 0; }
                if (!(c1 == cur || (c1 != 0 && c1 == prev))) { seen = 0; }
                if (!(c2 == cur || (c2 != 0 && c2 == prev))) { seen = 0; }
                if (!(c3 == cur || (c3 != 0 && c3 == prev))) { seen = 0; }
                if (!(c4 == cur || (c4 != 0 && c4 == prev))) { seen = 0; }
                if (!(c5 == cur || (c5 != 0 && c5 == prev))) { seen = 0; }
                if (!(c6 == cur || (c6 != 0 && c6 == prev))) { seen = 0; }
                if (!(c7 == cur || (c7 != 0 && c7 == prev))) { seen = 0; }
                if (seen == 1) {
                    drop_for(DROP_DUPLICATE);
                    return;
                }
                bloom.write(i0, cur);
                bloom.write(i1, cur);
                bloom.write(i2, cur);
                bloom.write(i3, cur);
                bloom.write(i4, cur);
                bloom.write(i5, cur);
                bloom.write(i6, cur);
                bloom.write(i7, cur);
            }
        }

        /* 6. probes */
        if (hdr.fmh.isValid() && hdr.fmh.msg_type == MSG_PROBE) {
            if ((hdr.fmh.flags & FLAG_PROBE_REPLY) == 0) {
                /* Request: reflect it out of its ingress port as a reply. Ethernet and IPv4
                 * addresses and UDP ports are swapped so the reply is addressed to the prober;
                 * epoch, sender and nonce stay, so the prober matches reply to request. The
                 * UDP checksum is unchanged by the swaps and adjusted for the flag. */
                bit<48> mac = hdr.ethernet.dstAddr;
                hdr.ethernet.dstAddr = hdr.ethernet.srcAddr;
                hdr.ethernet.srcAddr = mac;
                bit<32> addr = hdr.ipv4.dstAddr;
                hdr.ipv4.dstAddr = hdr.ipv4.srcAddr;
                hdr.ipv4.srcAddr = addr;
                bit<16> udp_port = hdr.udp.dstPort;
                hdr.udp.dstPort = hdr.udp.srcPort;
                hdr.udp.srcPort = udp_port;
                meta.ck_old = hdr.fmh.retry ++ hdr.fmh.flags;
                hdr.fmh.flags = hdr.fmh.flags | FLAG_PROBE_REPLY;
                meta.ck_new = hdr.fmh.retry ++ hdr.fmh.flags;
                if (hdr.udp.checksum != 0) {
                    meta.ck_sum = hdr.udp.checksum;
                    checksum_adjust();
                    if (meta.ck_sum == 0) {
                        meta.ck_sum = 0xFFFF;
                    }
                    hdr.udp.checksum = meta.ck_sum;
                }
                sm.egress_spec = sm.ingress_port;
            } else {
                /* Reply: hand it to the controller with the port it arrived on. */
                hdr.packet_in.setValid();
                hdr.packet_in.ingress_port = sm.ingress_port;
                hdr.packet_in.reason = PUNT_PROBE_REPLY;
                sm.egress_spec = CPU_PORT;
            }
            return;
        }

        /* 7. forwarding */
        if (!hdr.ipv4.isValid()) {
            drop_for(DROP_NOT_IPV4);
            return;
        }
        ipv4_lpm.apply();
        if (meta.routed == 0) {
            drop_for(DROP_NO_ROUTE);
            return;
        }
        port_down.apply();
        if (meta.port_is_down == 1) {
            meta.out_port = meta.backup_port;
            meta.out_dmac = meta.backup_dmac;
        }
        if (hdr.ipv4.ttl <= 1) {
            drop_for(DROP_IPV4_TTL);
            return;
        }
        if (hdr.fmh.isValid()) {
            if (hdr.fmh.hop_limit <= 1) {
                drop_for(DROP_HOP_LIMIT);
                return;
            }
            meta.ck_old = hdr.fmh.ttl ++ hdr.fmh.hop_limit;
            hdr.fmh.hop_limit = hdr.fmh.hop_limit - 1;
            meta.ck_new = hdr.fmh.ttl ++ hdr.fmh.hop_limit;
            if (hdr.udp.checksum != 0) {
                meta.ck_sum = hdr.udp.checksum;
                checksum_adjust();
                if (meta.ck_sum == 0) {
                    meta.ck_sum = 0xFFFF;
                }
                hdr.udp.checksum = meta.ck_sum;
            }
        }
        if (hdr.ipv4.ihl != 5) {
            /* FmComputeChecksum recomputes only option-less headers; adjust this one. */
            meta.ck_old = hdr.ipv4.ttl ++ hdr.ipv4.protocol;
            meta.ck_new = (hdr.ipv4.ttl - 1) ++ hdr.ipv4.protocol;
            meta.ck_sum = hdr.ipv4.hdrChecksum;
            checksum_adjust();
            hdr.ipv4.hdrChecksum = meta.ck_sum;
        }
        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
        hdr.ethernet.dstAddr = meta.out_dmac;
        sm.egress_spec = meta.out_port;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Egress: per-(port, class) counters and the queue-depth histogram                           */
/* ------------------------------------------------------------------------------------------ */

control FmEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    counter(TX_CLASS_SLOTS, CounterType.packets_and_bytes) tx_class;
    counter(QDEPTH_SLOTS, CounterType.packets) qdepth_hist;

    apply {
        /* Index = egress_port * 4 + class_id; the CPU port and ports above 63 are not counted. */
        if (sm.egress_port < COUNTED_PORTS) {
            bit<32> slot = ((bit<32>) sm.egress_port) * 4 + (bit<32>) meta.class_id;
            tx_class.count(slot);
            /* Buckets: 0:0, 1:1, 2:2-3, 3:4-7, 4:8-15, 5:16-31, 6:32-63, 7:64 and more. */
            bit<32> bucket = 7;
            if (sm.enq_qdepth == 0) {
                bucket = 0;
            } else if (sm.enq_qdepth == 1) {
                bucket = 1;
            } else if (sm.enq_qdepth < 4) {
                bucket = 2;
            } else if (sm.enq_qdepth < 8) {
                bucket = 3;
            } else if (sm.enq_qdepth < 16) {
                bucket = 4;
            } else if (sm.enq_qdepth < 32) {
                bucket = 5;
            } else if (sm.enq_qdepth < 64) {
                bucket = 6;
            }
            qdepth_hist.count(slot * QDEPTH_BUCKETS + bucket);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Checksum and deparser                                                                      */
/* ------------------------------------------------------------------------------------------ */

control FmComputeChecksum(inout headers_t hdr, inout meta_t meta) {
    apply {
        update_checksum(hdr.ipv4.isValid() && hdr.ipv4.ihl == 5,
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.totalLen,
              hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.fragOffset, hdr.ipv4.ttl,
              hdr.ipv4.protocol, hdr.ipv4.srcAddr, hdr.ipv4.dstAddr },
            hdr.ipv4.hdrChecksum, HashAlgorithm.csum16);
    }
}

control FmDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.packet_in);
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.udp);
        pkt.emit(hdr.fmh);
    }
}

V1Switch(FmParser(), FmVerifyChecksum(), FmIngress(), FmEgress(), FmComputeChecksum(),
         FmDeparser()) main;
