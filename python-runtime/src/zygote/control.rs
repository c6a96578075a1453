//! The zygote's control socket: a SOCK_SEQPACKET pair, one JSON object per packet, with
//! file descriptors passed alongside (SCM_RIGHTS).
//!
//! Invariant: a packet is sent or received whole (seqpacket keeps boundaries), so several
//! calls may send spawn requests at once without interleaving.

use serde_json::Value;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Most bytes in one control packet (the zygote's messages are tiny).
const MAX_PACKET: usize = 64 << 10;

/// The server's end.
pub struct Control {
    fd: AsyncFd<OwnedFd>,
}

/// A connected pair: the server's end (non-blocking, registered with tokio) and the
/// zygote's (blocking; placed on fd 3 of the zygote by the launcher).
pub fn pair() -> io::Result<(Control, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid out-pointer for two fds.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socketpair just returned these two fresh fds.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    set_nonblocking(ours.as_raw_fd())?;
    pass_credentials(ours.as_raw_fd())?;
    // SAFETY: `ours` is an open socket that the AsyncFd owns until it drops.
    let fd = unsafe { AsyncFd::register(ours) }?;
    Ok((Control { fd }, theirs))
}

/// Have the kernel attach the sender's credentials to every message `sock` receives: the
/// sender's pid as seen from here, whatever pid namespace it is in.
pub fn pass_credentials(sock: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with a valid int option.
    let r = unsafe {
        libc::setsockopt(
            sock,
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Control {
    /// Send one message with `fds` attached (they stay open here; close them after).
    pub async fn send(&self, msg: &Value, fds: &[RawFd]) -> io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
        self.fd
            .async_io(Interest::WRITABLE, |fd| {
                send_with_fds(fd.as_raw_fd(), &data, fds)
            })
            .await
    }

    /// The next message and the pid of its sender; `None` when the zygote closed its end
    /// (it is gone).
    pub async fn recv(&self) -> io::Result<Option<(Value, Option<libc::pid_t>)>> {
        let mut buf = vec![0u8; MAX_PACKET];
        let (n, pid) = self
            .fd
            .async_io(Interest::READABLE, |fd| {
                recv_with_pid(fd.as_raw_fd(), &mut buf)
            })
            .await?;
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(|v| Some((v, pid)))
            .map_err(|e| io::Error::other(format!("bad control message: {e}")))
    }
}

fn send_with_fds(sock: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let fd_bytes = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes as u32) } as usize;
    // u64 words: the control buffer must be aligned for cmsghdr.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the sendmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer holds exactly one cmsghdr of CMSG_LEN(fd_bytes).
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr().cast::<u8>(),
                libc::CMSG_DATA(cmsg),
                fd_bytes,
            );
        }
    }
    // SAFETY: msg is fully initialised above.
    let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != data.len() {
        return Err(io::Error::other("short write on the control socket"));
    }
    Ok(())
}

/// Receive into `buf`; the sender's pid when credentials are passed (see
/// [`pass_credentials`]). File descriptors sent along are closed: none is expected.
pub fn recv_with_pid(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<libc::pid_t>)> {
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::ucred>() as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; the pointers outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg is initialised; MSG_CMSG_CLOEXEC so a stray passed fd cannot leak.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut pid = None;
    // SAFETY: walking the control messages the kernel wrote into our buffer.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_CREDENTIALS
            {
                let cred: libc::ucred = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                pid = Some(cred.pid);
            } else if (*cmsg).cmsg_level == libc::SOL_SOCKET
                && (*cmsg).cmsg_type == libc::SCM_RIGHTS
            {
                // Not ours to keep.
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let count = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize)
                    / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    libc::close(std::ptr::read_unaligned(data.add(i)));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, pid))
}
