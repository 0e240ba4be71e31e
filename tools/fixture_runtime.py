"""A small custom runtime for the emulator's own tests: a real Runtime API client.

Each event is a command: {"echo": X} answers X with this process's id and environment;
{"fail": "..."} reports an invocation error; {"put": {...}} writes a DynamoDB item and
{"transact": [...]} runs TransactWriteItems, with the sandbox's credentials and endpoint;
an EventBridge event (one with a detail-type) is sent to the queue in SINK_QUEUE_URL; {"log": "..."} prints the line; {"sleep": s} waits.
A batch from an event source mapping ({"Records": [...]}) is sent, record by record, to
the queue in SINK_QUEUE_URL; records mentioning "fail" are reported as batch item
failures, and a batch mentioning "crash" is an invocation error.
"""

import json
import os
import time
import urllib.request

import boto3

api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"


def post(path: str, body: dict) -> None:
    request = urllib.request.Request(f"{api}{path}", data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(request).read()


while True:
    with urllib.request.urlopen(f"{api}/invocation/next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(response.read())
    try:
        if "log" in event:
            print(event["log"], flush=True)
        if "sleep" in event:
            time.sleep(event["sleep"])
        if "Records" in event:
            text = json.dumps(event)
            if "crash" in text:
                post(f"/invocation/{request_id}/error", {"errorType": "Fixture.Crash", "errorMessage": "crash"})
                continue
            sink, failures = boto3.client("sqs"), []
            for record in event["Records"]:
                identifier = record.get("messageId") or record["dynamodb"]["SequenceNumber"]
                if "fail" in json.dumps(record):
                    failures.append({"itemIdentifier": identifier})
                    if "dynamodb" in record:
                        break  # a stream is processed in order: stop at the first failure
                    continue
                sink.send_message(QueueUrl=os.environ["SINK_QUEUE_URL"], MessageBody=json.dumps(record))
            post(f"/invocation/{request_id}/response", {"batchItemFailures": failures})
            continue
        if "fail" in event:
            post(f"/invocation/{request_id}/error", {"errorType": "Fixture.Failed", "errorMessage": event["fail"]})
            continue
        if "put" in event:
            boto3.client("dynamodb").put_item(TableName=event["put"]["table"], Item=event["put"]["item"])
        if "transact" in event:
            boto3.client("dynamodb").transact_write_items(TransactItems=event["transact"])
        if "detail-type" in event:
            boto3.client("sqs").send_message(QueueUrl=os.environ["SINK_QUEUE_URL"], MessageBody=json.dumps(event))
        answer = {
            "echo": event.get("echo"),
            "pid": os.getpid(),
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID"),
            "setting": os.environ.get("SETTING"),
        }
        post(f"/invocation/{request_id}/response", answer)
    except Exception as err:  # reported, as a runtime does
        post(f"/invocation/{request_id}/error", {"errorType": type(err).__name__, "errorMessage": str(err)})
