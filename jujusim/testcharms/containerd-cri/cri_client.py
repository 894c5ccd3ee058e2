"""A kubelet's view of containerd over CRI: `version` and `pull IMAGE`.

Usage: cri_client.py STUBS_DIR SOCKET version|pull [IMAGE]
STUBS_DIR holds cri_pb2*.py generated from cri.proto. On an RPC error the exit code is 1
and stderr is exactly containerd's error text (grpc details), nothing added.
"""
import sys

import grpc


def main(argv):
    stubs, socket, command = argv[1:4]
    sys.path.insert(0, stubs)
    import cri_pb2  # noqa: E402 (generated at run time)
    import cri_pb2_grpc  # noqa: E402

    channel = grpc.insecure_channel("unix://" + socket)
    try:
        if command == "version":
            reply = cri_pb2_grpc.RuntimeServiceStub(channel).Version(
                cri_pb2.VersionRequest(version="v1"), timeout=5
            )
            print(reply.runtime_name, reply.runtime_version, reply.runtime_api_version)
        elif command == "pull":
            request = cri_pb2.PullImageRequest(image=cri_pb2.ImageSpec(image=argv[4]))
            reply = cri_pb2_grpc.ImageServiceStub(channel).PullImage(request, timeout=120)
            print(reply.image_ref)
        else:
            print(f"unknown command {command!r}", file=sys.stderr)
            return 2
    except grpc.RpcError as e:
        sys.stderr.write(e.details() or str(e.code()))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
