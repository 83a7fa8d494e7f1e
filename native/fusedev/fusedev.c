/*
 * fusedev: the smallest native part of mosaicfs's own FUSE binding. It only does what JS cannot:
 * open /dev/fuse and mount(2) it, receive a /dev/fuse fd from fusermount3 (SCM_RIGHTS), poll the
 * fd on node's own event loop (uv_poll, no thread hand-off), and read/write it without blocking.
 * The FUSE protocol itself is TypeScript (src/fuse/kernel/). Failures come back as -errno or as
 * thrown Errors with .code (e.g. 'EPERM') and .errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <node_api.h>
#include <uv.h>

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

static napi_value throw_errno(napi_env env, const char* what, int err) {
  napi_value code, msg, error, num;
  const char* name = strerrorname_np(err);
  char text[256];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, name ? name : "EIO", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_throw(env, error);
  return NULL;
}

static napi_value int_value(napi_env env, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

static int arg_int(napi_env env, napi_value v) {
  int32_t n = -1;
  napi_get_value_int32(env, v, &n);
  return n;
}

/* Copies a JS string argument into a malloc'd C string (caller frees). */
static char* arg_string(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char* s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* openDev(): fd of a fresh /dev/fuse connection (close-on-exec). */
static napi_value open_dev(napi_env env, napi_callback_info info) {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open /dev/fuse", errno);
  return int_value(env, fd);
}

/* mount(source, target, fstype, flags, data): mount(2), root only. */
static napi_value do_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char* source = arg_string(env, argv[0]);
  char* target = arg_string(env, argv[1]);
  char* fstype = arg_string(env, argv[2]);
  char* data = arg_string(env, argv[4]);
  int64_t flags = 0;
  napi_get_value_int64(env, argv[3], &flags);
  int rc = (source && target && fstype && data) ? mount(source, target, fstype, (unsigned long)flags, data) : -1;
  int err = rc < 0 ? (source && target && fstype && data ? errno : EINVAL) : 0;
  free(source); free(target); free(fstype); free(data);
  if (rc < 0) return throw_errno(env, "mount", err);
  return NULL;
}

/* umount(target, flags): umount2(2). */
static napi_value do_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char* target = arg_string(env, argv[0]);
  int rc = target ? umount2(target, arg_int(env, argv[1])) : -1;
  int err = target ? errno : EINVAL;
  free(target);
  if (rc < 0) return throw_errno(env, "umount2", err);
  return NULL;
}

/* socketpair(): [a, b], AF_UNIX stream sockets for fusermount3's _FUSE_COMMFD. */
static napi_value do_socketpair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return throw_errno(env, "socketpair", errno);
  napi_value arr;
  CHECK(napi_create_array_with_length(env, 2, &arr));
  napi_set_element(env, arr, 0, int_value(env, sv[0]));
  napi_set_element(env, arr, 1, int_value(env, sv[1]));
  return arr;
}

/* recvFd(sock): the fd fusermount3 sent over the socket (SCM_RIGHTS). */
static napi_value recv_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int sock = arg_int(env, argv[0]);
  char byte;
  struct iovec iov = { &byte, 1 };
  char ctl[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = { 0 };
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "recvmsg", errno);
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (n == 0 || !c || c->cmsg_type != SCM_RIGHTS) return throw_errno(env, "fusermount3 sent no fd", ECONNABORTED);
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return int_value(env, fd);
}

static napi_value set_nonblock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = arg_int(env, argv[0]);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return throw_errno(env, "fcntl O_NONBLOCK", errno);
  return NULL;
}

static napi_value do_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (close(arg_int(env, argv[0])) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

/* read(fd, buffer): bytes read, or -errno (-EAGAIN: nothing pending; -ENODEV: unmounted). */
static napi_value do_read(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void* data;
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_buffer_info(env, argv[1], &data, &len));
  ssize_t n;
  do n = read(arg_int(env, argv[0]), data, len); while (n < 0 && errno == EINTR);
  return int_value(env, n < 0 ? -errno : n);
}

/* writev(fd, buffers[]): bytes written, or -errno (-ENOENT: the request was interrupted). */
static napi_value do_writev(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t count = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_array_length(env, argv[1], &count));
  if (count > 16) return throw_errno(env, "writev: too many buffers", EINVAL);
  struct iovec iov[16];
  for (uint32_t i = 0; i < count; i++) {
    napi_value b;
    CHECK(napi_get_element(env, argv[1], i, &b));
    CHECK(napi_get_buffer_info(env, b, &iov[i].iov_base, &iov[i].iov_len));
  }
  ssize_t n;
  do n = writev(arg_int(env, argv[0]), iov, (int)count); while (n < 0 && errno == EINTR);
  return int_value(env, n < 0 ? -errno : n);
}

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
} poller_t;

static void on_readable(uv_poll_t* handle, int status, int events) {
  poller_t* p = handle->data;
  napi_handle_scope scope;
  napi_value cb, recv, arg, result;
  if (napi_open_handle_scope(p->env, &scope) != napi_ok) return;
  napi_get_reference_value(p->env, p->callback, &cb);
  napi_get_global(p->env, &recv); /* make_callback wants an object receiver */
  napi_create_int32(p->env, status, &arg);
  /* make_callback (not call_function) so promise jobs queued by the callback run right after it. */
  if (napi_make_callback(p->env, p->async, recv, cb, 1, &arg, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(p->env, &err);
    napi_fatal_exception(p->env, err);
  }
  napi_close_handle_scope(p->env, scope);
}

static void on_closed(uv_handle_t* handle) {
  poller_t* p = handle->data;
  napi_delete_reference(p->env, p->callback);
  napi_async_destroy(p->env, p->async);
  free(p);
}

/* poll(fd, callback): calls callback(status) on the event loop whenever fd is readable. */
static napi_value do_poll(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], name, external;
  uv_loop_t* loop;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_uv_event_loop(env, &loop));
  poller_t* p = calloc(1, sizeof *p);
  if (!p) return throw_errno(env, "poll", ENOMEM);
  p->env = env;
  CHECK(napi_create_reference(env, argv[1], 1, &p->callback));
  CHECK(napi_create_string_utf8(env, "fusedev.poll", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &p->async));
  int rc = uv_poll_init(loop, &p->handle, arg_int(env, argv[0]));
  if (rc == 0) rc = uv_poll_start(&p->handle, UV_READABLE, on_readable);
  if (rc < 0) {
    napi_delete_reference(env, p->callback);
    napi_async_destroy(env, p->async);
    free(p);
    return throw_errno(env, "uv_poll", -rc);
  }
  p->handle.data = p;
  CHECK(napi_create_external(env, p, NULL, NULL, &external));
  return external;
}

/* stopPoll(handle): stop polling and free the poller (once). */
static napi_value stop_poll(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  poller_t* p;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_external(env, argv[0], (void**)&p));
  if (!uv_is_closing((uv_handle_t*)&p->handle)) uv_close((uv_handle_t*)&p->handle, on_closed);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "openDev", NULL, open_dev, NULL, NULL, NULL, napi_enumerable, NULL },
    { "mount", NULL, do_mount, NULL, NULL, NULL, napi_enumerable, NULL },
    { "umount", NULL, do_umount, NULL, NULL, NULL, napi_enumerable, NULL },
    { "socketpair", NULL, do_socketpair, NULL, NULL, NULL, napi_enumerable, NULL },
    { "recvFd", NULL, recv_fd, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setNonblock", NULL, set_nonblock, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, do_close, NULL, NULL, NULL, napi_enumerable, NULL },
    { "read", NULL, do_read, NULL, NULL, NULL, napi_enumerable, NULL },
    { "writev", NULL, do_writev, NULL, NULL, NULL, napi_enumerable, NULL },
    { "poll", NULL, do_poll, NULL, NULL, NULL, napi_enumerable, NULL },
    { "stopPoll", NULL, stop_poll, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
