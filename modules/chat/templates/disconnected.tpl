{
  "version": "1.0",
  "source": "custom",
  "id": <eventId>,
  "content": {
    "textType": "client-markdown",
    "title": ":red_circle: <clientId> disconnected",
    "description": "*<clientId>* has stayed disconnected for its grace period.\n*Disconnect reason:* <disconnectReason>\n*Thing:* <thingName>   *Type:* <thingType>   *Groups:* <thingGroups>\n*Maintenance window:* <windowId>\n*Storm:* <stormId>",
    "nextSteps": [
      "Its stored status: `connectivity get <clientId>`",
      "Its sessions: `connectivity history <clientId> --since 1d` (with history_enabled)",
      "Check the device's power and network link"
    ],
    "keywords": ["device-connectivity", "disconnected"]
  },
  "metadata": {
    "threadId": <clientId>,
    "summary": "<clientId> disconnected",
    "eventType": "Device Disconnected",
    "relatedResources": [<clientId>],
    "additionalContext": {
      "clientId": <clientId>,
      "eventId": <eventId>,
      "sequence": "<sequence>",
      "disconnectReason": "<disconnectReason>",
      "stormId": "<stormId>",
      "time": <time>,
      "account": <account>,
      "region": <region>
    }
  }
}
