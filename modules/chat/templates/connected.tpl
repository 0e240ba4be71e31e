{
  "version": "1.0",
  "source": "custom",
  "id": <eventId>,
  "content": {
    "textType": "client-markdown",
    "title": ":large_green_circle: <clientId> back after <offlineMs> ms offline",
    "description": "*<clientId>* connected again after <offlineMs> ms offline.\n*IP address:* <ipAddress>\n*Thing:* <thingName>   *Type:* <thingType>   *Groups:* <thingGroups>\n*Maintenance window:* <windowId>",
    "nextSteps": [
      "Its sessions: `connectivity history <clientId> --since 1d` (with history_enabled)"
    ],
    "keywords": ["device-connectivity", "connected"]
  },
  "metadata": {
    "threadId": <clientId>,
    "summary": "<clientId> back online",
    "eventType": "Device Connected",
    "relatedResources": [<clientId>],
    "additionalContext": {
      "clientId": <clientId>,
      "eventId": <eventId>,
      "sequence": "<sequence>",
      "offlineDurationMs": "<offlineMs>",
      "time": <time>,
      "account": <account>,
      "region": <region>
    }
  }
}
