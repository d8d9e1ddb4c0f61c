package wire

// outChunk keeps every output message well under maxMessage once the
// bytes are base64 in JSON.
const OutChunk = 32 << 10
