"""Grafting the emulator onto moto: once per process, before any Connect request is served.

moto reads ``moto.connect.urls.url_paths`` on every in-process request and when server mode builds
its Flask app for Connect, so extending that dict is enough for both modes. moto's own Connect paths
are re-pointed at the emulator's response class (a subclass of moto's), so they keep working while
sharing the rate limits, faults and call log. ``native`` adds AWS::Connect::PhoneNumber to moto's
CloudFormation, ``played_stacks`` the stacks the local CloudFormation stand-in plays, ``dynamodb`` one
request at a time and its faults, ``faults`` the transient faults of CloudFormation (and Connect's and
DynamoDB's, taken in their own dispatch), ``lambda_async`` Lambda's asynchronous Invoke (queued for the
stand-in).
"""

from __future__ import annotations

import threading

import moto.connect.urls as moto_connect_urls
import moto.moto_api._internal.urls as moto_api_urls
from moto.moto_api import state_manager

from . import dynamodb, faults, lambda_async, native, played_stacks, urls
from .control import CONTROL_URL_PATHS
from .models import TDG_STATE_MODEL
from .responses import ConnectEmulatorResponse

_install_lock = threading.Lock()
_installed = False


def install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        for path in list(moto_connect_urls.url_paths):
            moto_connect_urls.url_paths[path] = ConnectEmulatorResponse.dispatch
        moto_connect_urls.url_paths.update(urls.url_paths)
        moto_api_urls.url_paths.update(CONTROL_URL_PATHS)
        state_manager.register_default_transition(TDG_STATE_MODEL, transition={"progression": "immediate"})
        native.install()
        played_stacks.install()
        dynamodb.install()
        faults.install()
        lambda_async.install()
        _installed = True
