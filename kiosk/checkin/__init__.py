"""The check-in itself, pure: the flow (states, events, effects), the patient's data (the model), the intake
forms, corrections and the consent signature. Nothing here touches a device, a screen, a file or the network."""
