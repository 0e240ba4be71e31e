{
  "version": "1.0",
  "source": "custom",
  "id": <eventId>,
  "content": {
    "textType": "client-markdown",
    "title": ":white_check_mark: <groupBy> <group> restored after <durationMs> ms",
    "description": "The connectivity storm of <groupBy> *<group>* ended after <durationMs> ms.\n*Storm:* <stormId>\n*At its peak:* <peak> devices down\n*Still down:* <count> (the first 100 are this notification's related resources)",
    "nextSteps": [
      "Devices still down: `connectivity list --status Disconnected`"
    ],
    "keywords": ["device-connectivity", "storm", "restored"]
  },
  "metadata": {
    "threadId": <stormId>,
    "summary": "<groupBy> <group> restored",
    "eventType": "Fleet Connectivity Restored",
    "relatedResources": <clientIds>,
    "additionalContext": {
      "stormId": <stormId>,
      "groupBy": <groupBy>,
      "group": <group>,
      "eventId": <eventId>,
      "sequence": "<sequence>",
      "peakCount": "<peak>",
      "durationMs": "<durationMs>",
      "disconnectedCount": "<count>",
      "time": <time>,
      "account": <account>,
      "region": <region>
    }
  }
}
