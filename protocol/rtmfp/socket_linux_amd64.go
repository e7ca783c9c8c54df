package rtmfp

// System call numbers of recvmmsg(2) and sendmmsg(2) on linux/amd64 (the
// syscall package lacks SYS_SENDMMSG here).
const (
	sysRECVMMSG = 299
	sysSENDMMSG = 307
)
