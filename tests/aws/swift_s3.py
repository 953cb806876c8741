#!/usr/bin/python3
"""
A real S3 server for tests: OpenStack Swift (Debian's python3-swift) with its
s3api middleware, run as proxy + account + container + object servers in one
eventlet process on 127.0.0.1, with rings and data in a temporary directory.

s3api checks SigV4 (a wrong secret gives 403 SignatureDoesNotMatch, a body
that does not match x-amz-content-sha256 gives 400 XAmzContentSHA256Mismatch)
and supports bucket versioning through versioned_writes.

Credentials (tempauth): access key "test:tester", secret "testing".

Usage: swift_s3.py --dir DIR [--port N] [--port-file FILE]
Writes the S3 port to FILE (atomically) once every server listens, then runs
until SIGTERM/SIGINT. Run with /usr/bin/python3 (the Debian modules).
"""
import argparse
import os
import signal
import socket
import sys
import time

import eventlet

eventlet.monkey_patch()

import eventlet.wsgi  # noqa: E402

ACCESS_KEY = "test:tester"
SECRET_KEY = "testing"


class DictCache(object):
    """In-process stand-in for memcached: tempauth and s3api need a cache,
    and a test must not depend on a memcached server."""

    def __init__(self):
        self.d = {}

    def _live(self, key):
        v = self.d.get(key)
        if v is None:
            return None
        value, exp = v
        if exp and exp < time.time():
            del self.d[key]
            return None
        return value

    def get(self, key, *a, **kw):
        return self._live(key)

    def set(self, key, value, serialize=True, time=0, *a, **kw):  # noqa
        exp = 0
        if time:
            exp = __import__("time").time() + time
        self.d[key] = (value, exp)

    def incr(self, key, delta=1, time=0, *a, **kw):  # noqa
        v = int(self._live(key) or 0) + delta
        self.set(key, v, time=time)
        return v

    def decr(self, key, delta=1, time=0, *a, **kw):  # noqa
        return self.incr(key, -delta, time)

    def delete(self, key, *a, **kw):
        self.d.pop(key, None)

    def get_multi(self, keys, *a, **kw):
        return [self._live(k) for k in keys]

    def set_multi(self, mapping, *a, **kw):
        for k, v in mapping.items():
            self.set(k, v, time=kw.get("time", 0))


_CACHE = DictCache()


def cache_filter_factory(global_conf, **local_conf):
    def wrap(app):
        def mw(env, start_response):
            env["swift.cache"] = _CACHE
            return app(env, start_response)
        return mw
    return wrap


def free_socket(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    return s


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def build_rings(swift_dir, ports):
    from swift.common.ring import RingBuilder
    for name in ("account", "container", "object"):
        b = RingBuilder(4, 1, 1)
        b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1",
                   "port": ports[name], "device": "sdb1", "weight": 100.0,
                   "meta": ""})
        b.rebalance()
        b.get_ring().save(os.path.join(swift_dir, name + ".ring.gz"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()

    d = os.path.abspath(args.dir)
    swift_dir = os.path.join(d, "etc")
    devices = os.path.join(d, "srv")
    os.makedirs(swift_dir, exist_ok=True)
    os.makedirs(os.path.join(devices, "sdb1"), exist_ok=True)
    os.makedirs(os.path.join(d, "cache"), exist_ok=True)
    # Swift keeps metadata in user xattrs: refuse early and clearly.
    probe = os.path.join(devices, "sdb1", ".xattr-probe")
    write(probe, "")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError as e:
        sys.exit("swift_s3: %s does not support user xattrs (%s)" % (d, e))
    os.unlink(probe)

    socks = {"proxy": free_socket(args.port)}
    for name in ("account", "container", "object"):
        socks[name] = free_socket()
    ports = {k: s.getsockname()[1] for k, s in socks.items()}

    write(os.path.join(swift_dir, "swift.conf"), """
[swift-hash]
swift_hash_path_suffix = mtlsca-test
swift_hash_path_prefix = mtlsca-test
[storage-policy:0]
name = gold
default = yes
""")
    build_rings(swift_dir, ports)
    here = os.path.dirname(os.path.abspath(__file__))
    common = """
[DEFAULT]
swift_dir = %s
devices = %s
mount_check = false
disable_fallocate = true
log_name = swift-test
log_level = WARNING
""" % (swift_dir, devices)
    write(os.path.join(swift_dir, "account-server.conf"), common + """
[pipeline:main]
pipeline = account-server
[app:account-server]
use = egg:swift#account
""")
    write(os.path.join(swift_dir, "container-server.conf"), common + """
[pipeline:main]
pipeline = container-server
[app:container-server]
use = egg:swift#container
allow_versions = true
""")
    write(os.path.join(swift_dir, "object-server.conf"), common + """
[pipeline:main]
pipeline = object-server
[app:object-server]
use = egg:swift#object
""")
    write(os.path.join(swift_dir, "proxy-server.conf"), common + """
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
[filter:cache]
use = call:swift_s3:cache_filter_factory
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = %s .admin
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
allow_object_versioning = true
[filter:symlink]
use = egg:swift#symlink
""" % SECRET_KEY)

    sys.path.insert(0, here)
    from swift.common import utils
    from swift.common.wsgi import loadapp
    utils.set_swift_dir(swift_dir)
    from swift.common.storage_policy import reload_storage_policies
    reload_storage_policies()

    apps = {}
    for name in ("account", "container", "object", "proxy"):
        apps[name] = loadapp(os.path.join(swift_dir, name + "-server.conf"))

    class Quiet(object):
        def write(self, *a):
            pass

        def info(self, *a, **kw):
            pass
        debug = error = warning = info

    pool = eventlet.GreenPool()
    for name, app in apps.items():
        pool.spawn(eventlet.wsgi.server, socks[name], app, log=Quiet(),
                   log_output=False, debug=False)

    if args.port_file:
        write(args.port_file + ".tmp", "%d\n" % ports["proxy"])
        os.rename(args.port_file + ".tmp", args.port_file)
    sys.stdout.write("swift_s3: S3 on 127.0.0.1:%d\n" % ports["proxy"])
    sys.stdout.flush()

    def stop(*_):
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pool.waitall()


if __name__ == "__main__":
    main()
