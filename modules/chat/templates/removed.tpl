{
  "version": "1.0",
  "source": "custom",
  "id": <eventId>,
  "content": {
    "textType": "client-markdown",
    "title": ":red_circle: <clientId> removed (<removal>)",
    "description": "*<clientId>*'s item was removed while it was announced connected (<removal>): it now counts as disconnected, and is announced again when it connects.\n*Thing:* <thingName>   *Type:* <thingType>   *Groups:* <thingGroups>\n*Maintenance window:* <windowId>",
    "nextSteps": [
      "ITEM_DELETED: someone deleted the item; ITEM_EXPIRED: the item TTL (item_ttl_days) expired it"
    ],
    "keywords": ["device-connectivity", "disconnected", "removed"]
  },
  "metadata": {
    "threadId": <clientId>,
    "summary": "<clientId> removed (<removal>)",
    "eventType": "Device Disconnected",
    "relatedResources": [<clientId>],
    "additionalContext": {
      "clientId": <clientId>,
      "eventId": <eventId>,
      "sequence": "<sequence>",
      "reason": <removal>,
      "time": <time>,
      "account": <account>,
      "region": <region>
    }
  }
}
