// Credentials of the process at the other end of a Unix socket (SO_PEERCRED): Node cannot read them.
#ifndef DISKLESS_PEER_CREDENTIALS_H
#define DISKLESS_PEER_CREDENTIALS_H

#include <napi.h>

namespace diskless {

// peerCredentials(fd: number): { pid, uid, gid }; throws an Error with `code` (errno name) on failure.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info);

// peerHungUp(fd: number): boolean: the peer will send nothing more (it closed its end, or shut its write side
// down), even if bytes it sent are still unread (poll POLLRDHUP, no wait).
Napi::Value PeerHungUp(const Napi::CallbackInfo& info);

// peerClosed(fd: number): boolean: every holder of the other end closed it (poll POLLHUP, no wait), as
// opposed to a peer that only shut its write side down and still holds the connection (wire.def: a
// file's clean end by its certain last holder).
Napi::Value PeerClosed(const Napi::CallbackInfo& info);

}  // namespace diskless

#endif
