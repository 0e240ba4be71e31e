{
  "version": "1.0",
  "source": "custom",
  "id": <eventId>,
  "content": {
    "textType": "client-markdown",
    "title": ":large_green_circle: <clientId> connected for the first time",
    "description": "*<clientId>* connected; it had never been announced before.\n*IP address:* <ipAddress>\n*Thing:* <thingName>   *Type:* <thingType>   *Groups:* <thingGroups>\n*Maintenance window:* <windowId>",
    "nextSteps": [
      "Its stored status: `connectivity get <clientId>`"
    ],
    "keywords": ["device-connectivity", "connected", "first-seen"]
  },
  "metadata": {
    "threadId": <clientId>,
    "summary": "<clientId> connected for the first time",
    "eventType": "Device Connected",
    "relatedResources": [<clientId>],
    "additionalContext": {
      "clientId": <clientId>,
      "eventId": <eventId>,
      "sequence": "<sequence>",
      "time": <time>,
      "account": <account>,
      "region": <region>
    }
  }
}
