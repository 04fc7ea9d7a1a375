"""cosmic-ray's test command with the fork server (`forkserver.py`): hands this process's stdout,
stderr, directory and environment to a forked pytest and exits with its status.

    python -S tests/mutation/client.py SOCKET [pytest args...]
"""

from __future__ import annotations

import json
import os
import socket
import sys


def main(path: str, args: list[str]) -> int:
    request = {"cwd": os.getcwd(), "env": dict(os.environ), "args": args}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        socket.send_fds(conn, [json.dumps(request).encode()], [1, 2])
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(64):
            answer += chunk
    return int(answer or b"1")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
