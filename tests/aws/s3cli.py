#!/usr/bin/python3
"""
An independent S3 client for tests (python3-botocore), to prepare buckets and
read back what mtlsca wrote.

  s3cli.py ENDPOINT mb BUCKET [--versioning]
  s3cli.py ENDPOINT get BUCKET KEY [OUTFILE]   (exit 3 when absent)
  s3cli.py ENDPOINT put BUCKET KEY FILE
  s3cli.py ENDPOINT ls BUCKET [PREFIX]          (one key per line)

Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, default the Swift
launcher's test:tester / testing.
"""
import os
import sys

import botocore.session
from botocore.config import Config


def client(endpoint):
    s = botocore.session.get_session()
    return s.create_client(
        "s3", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test:tester"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY",
                                             "testing"),
        config=Config(signature_version="s3v4",
                      s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}))


def main():
    endpoint, cmd, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
    c = client(endpoint)
    if cmd == "mb":
        c.create_bucket(Bucket=bucket)
        if "--versioning" in sys.argv:
            c.put_bucket_versioning(
                Bucket=bucket,
                VersioningConfiguration={"Status": "Enabled"})
    elif cmd == "get":
        try:
            body = c.get_object(Bucket=bucket, Key=sys.argv[4])["Body"].read()
        except c.exceptions.NoSuchKey:
            sys.exit(3)
        if len(sys.argv) > 5:
            with open(sys.argv[5], "wb") as f:
                f.write(body)
        else:
            sys.stdout.buffer.write(body)
    elif cmd == "put":
        with open(sys.argv[5], "rb") as f:
            c.put_object(Bucket=bucket, Key=sys.argv[4], Body=f.read())
    elif cmd == "ls":
        kw = {"Bucket": bucket}
        if len(sys.argv) > 4:
            kw["Prefix"] = sys.argv[4]
        for o in c.list_objects(**kw).get("Contents", []):
            print(o["Key"])
    elif cmd == "versions":
        # KEY VERSION-ID ETAG per version of every object under a prefix.
        kw = {"Bucket": bucket}
        if len(sys.argv) > 4:
            kw["Prefix"] = sys.argv[4]
        for v in c.list_object_versions(**kw).get("Versions", []):
            print(v["Key"], v.get("VersionId", "null"), v["ETag"])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
