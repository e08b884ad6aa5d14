"""URL paths the emulator adds to moto's Connect backend (merged into ``moto.connect.urls``).

Each pattern only has to reach the dispatcher: the operation itself is picked by moto's router from
botocore's model and the raw (still percent-encoded) path. The catch-all groups may contain '/'
because werkzeug decodes %2F in server mode, so an ARN in the path arrives with real slashes there.
"""

from .responses import ConnectEmulatorResponse

url_bases = [
    r"https?://connect\.(.+)\.amazonaws\.com",
]

url_paths = {
    "{0}/phone-number/(?P<PhoneNumberPath>.+)$": ConnectEmulatorResponse.dispatch,
    "{0}/traffic-distribution-group$": ConnectEmulatorResponse.dispatch,
    "{0}/traffic-distribution-group/(?P<TrafficDistributionGroupPath>.+)$": ConnectEmulatorResponse.dispatch,
    "{0}/contact-flows/(?P<ContactFlowPath>.+)$": ConnectEmulatorResponse.dispatch,
    "{0}/flow-associations-summary/(?P<FlowAssociationsPath>.+)$": ConnectEmulatorResponse.dispatch,
    "{0}/flow-associations-batch/(?P<FlowAssociationsBatchPath>.+)$": ConnectEmulatorResponse.dispatch,
    # moto's own instance paths stop at '/', so an instance ARN (decoded in server mode) would not reach
    # the dispatcher, which refuses it as Connect does. Group named as moto's handlers read it.
    "{0}/instance/(?P<InstanceId>.+)$": ConnectEmulatorResponse.dispatch,
    "{0}/analytics-data/instance/(?P<InstanceId>.+)/association$": ConnectEmulatorResponse.dispatch,
}
