// Package flvfile reads and writes FLV files (FLV/F4V spec 10.1, Annex E)
// for recording and video on demand, without holding a file in memory.
//
// Reading. Scan walks a file's tag headers once, reading a few bytes of
// each tag, and returns an Index: where the keyframes are (for seeking),
// the codec sequence headers and metadata (for starting mid-file), the
// duration and where the last complete tag ends. A file cut anywhere —
// a recording the server died writing, a copy in progress — indexes up to
// its last complete tag and plays that far. Players then read tags with
// ReadTag, one positioned read per tag, so that thousands of players of
// one file share the page cache and each holds only the tag in flight.
//
// Writing. Writer writes tags through an io.Writer (the recorder gives it
// a buffered file) and keeps the first onMetaData tag's duration at a
// known offset, which PatchDuration fills in when the recording closes:
// the file is valid FLV at every tag boundary before that, so a recording
// interrupted by a full disk or a crash stays playable up to the cut.
// Append continues an existing file after its last complete tag.
package flvfile
