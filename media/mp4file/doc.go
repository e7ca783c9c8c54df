// Package mp4file reads MP4, F4V and MOV files (ISO/IEC 14496-12 and 14,
// progressive with moov at the start or the end, or fragmented) for
// video on demand, and writes fragmented MP4 for recording, with the
// FLV-tag interface the rest of Nimbus speaks.
//
// Reading. Scan walks the file's top-level boxes by their headers,
// decodes the moov and each moof (bounded in size: the mdat is never
// read) and keeps a compact per-track sample table: 20 bytes a sample
// (offset, size and sync flag, decode time and composition offset in
// milliseconds). The Index is shared by every player of a file; each
// player's Cursor reads one sample per positioned read and builds the FLV
// tag body for it on the fly: AVC (legacy codec 7) or HEVC (Enhanced RTMP
// FourCC hvc1) NALU frames with their composition offsets, raw AAC, and
// the sequence headers from the avcC/hvcC records and the esds
// AudioSpecificConfig. A file cut short (a recording the server died
// writing) indexes the samples that are wholly in the file.
//
// Writing. Writer takes FLV audio and video tags of a live stream and
// writes an init segment (ftyp, moov with mvex) once the codecs are
// known, then a moof+mdat fragment per video keyframe (at most
// maxFragment long): the file plays up to its last complete fragment
// wherever it is cut.
//
// Box parsing and writing use github.com/Eyevinn/mp4ff, box by box
// (DecodeHeader, DecodeBoxSR on a bounded buffer) rather than its whole-
// file decoding, which would hold every moof of a long fragmented file in
// memory at once; walking the top level and expanding the sample tables
// into the compact index is ours.
package mp4file
